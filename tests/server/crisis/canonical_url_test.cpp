#include "server/crisis/canonical_url.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

using muster::server::crisis::canonical_url;

namespace {

/// Every link is a re-share of one post and must give `key`.
void expect_key(const std::string& key, std::initializer_list<std::string_view> links) {
  for (auto link : links) EXPECT_EQ(canonical_url(link), key) << link;
  EXPECT_EQ(canonical_url(key), key) << "a key is its own canonical form";
}

/// Each link names another thing to answer than `post`.
void expect_apart(std::string_view post, std::initializer_list<std::string_view> links) {
  for (auto link : links) EXPECT_NE(canonical_url(link), canonical_url(post)) << link;
}

}  // namespace

TEST(canonical_url, x_keys_a_post_by_user_and_status_id) {
  expect_key("https://x.com/brandhelp/status/1790000000000000001",
             {"https://x.com/BrandHelp/status/1790000000000000001",
              "https://twitter.com/brandhelp/status/1790000000000000001?s=20&t=AbCdEfGh",
              "http://mobile.twitter.com/BrandHelp/status/1790000000000000001/",
              "https://www.x.com/brandhelp/status/1790000000000000001/photo/1",
              "https://x.com/brandhelp/status/1790000000000000001/video/1?s=46",
              "https://twitter.com/BrandHelp/statuses/1790000000000000001",
              "https://www.twitter.com/BrandHelp/status/1790000000000000001?ref_src=twsrc",
              "https://mobile.x.com/brandhelp/status/1790000000000000001?utm_source=rt&fbclid=z",
              "HTTPS://X.com/brandhelp/status/1790000000000000001/?utm_source=a&s=2#frag",
              "https://x.com//brandhelp//status//1790000000000000001//#reply",
              "https://twitter.com/#!/BrandHelp/status/1790000000000000001"});
  expect_key("https://x.com/i/status/1790000000000000001",
             {"https://mobile.x.com/i/web/status/1790000000000000001",
              "https://twitter.com/i/web/status/1790000000000000001?s=19",
              "https://x.com/i/status/1790000000000000001/"});
  expect_apart("https://x.com/brandhelp/status/1790000000000000001",
               {"https://x.com/brandhelp/status/1790000000000000002", "https://x.com/brandhelp",
                "https://x.com.evil.example/brandhelp/status/1790000000000000001"});
  EXPECT_EQ(canonical_url("https://twitter.com/BrandHelp?s=20"), "https://x.com/BrandHelp")
      << "other pages keep their path and lose every parameter";
}

TEST(canonical_url, instagram_folds_reels_and_tv_into_p) {
  expect_key("https://www.instagram.com/p/C8xYz12AbCd",
             {"https://www.instagram.com/p/C8xYz12AbCd/?igsh=MWx0dGdl&utm_source=ig_web_copy_link",
              "https://instagram.com/reel/C8xYz12AbCd/?igshid=NTc4MTIwNjQ2YQ==",
              "http://instagr.am/p/C8xYz12AbCd", "https://www.instagram.com/reels/C8xYz12AbCd/",
              "https://www.instagram.com/tv/C8xYz12AbCd",
              "https://www.instagram.com/cityfire/p/C8xYz12AbCd/?img_index=1",
              "https://www.instagram.com/cityfire/reel/C8xYz12AbCd/"});
  expect_apart(
      "https://www.instagram.com/p/C8xYz12AbCd",
      {"https://www.instagram.com/p/c8xyz12abcd", "https://www.instagram.com/p/C8xYz12AbCe",
       "https://www.instagram.com/p/C8xYz12AbCd/c/17900000000000001"});
}

TEST(canonical_url, facebook_keeps_the_parameters_that_name_a_post) {
  expect_key(
      "https://www.facebook.com/permalink.php?id=100064&story_fbid=pfbid02Abc",
      {"https://m.facebook.com/story.php?story_fbid=pfbid02Abc&id=100064&mibextid=Nif5oz",
       "https://www.facebook.com/permalink.php?story_fbid=pfbid02Abc&id=100064&rdid=xY&share_url=h",
       "http://mbasic.facebook.com/story.php?id=100064&story_fbid=pfbid02Abc&__tn__=%2AW-R",
       "https://web.facebook.com/permalink.php/?story_fbid=pfbid02Abc&id=100064&ref=embed_post"});
  expect_key("https://www.facebook.com/CityFireDept/posts/pfbid0abc",
             {"https://fb.com/CityFireDept/posts/pfbid0abc?mibextid=WC7FNe&fbclid=IwAR",
              "https://www.fb.com/CityFireDept/posts/pfbid0abc/?__tn__=R",
              "http://facebook.com/CityFireDept/posts/pfbid0abc"});
  expect_key("https://www.facebook.com/watch?v=123456789",
             {"https://www.facebook.com/watch/?v=123456789&ref=sharing",
              "https://m.facebook.com/watch?v=123456789&mibextid=abc"});
  expect_key("https://www.facebook.com/photo.php?fbid=987",
             {"https://www.facebook.com/photo/?fbid=987&set=a.654",
              "https://m.facebook.com/photo.php?fbid=987&set=a.654&mibextid=x"});
  expect_key("https://www.facebook.com/groups/123456/posts/7890",
             {"https://www.facebook.com/groups/123456/permalink/7890/",
              "https://m.facebook.com/groups/123456/posts/7890/?mibextid=S66gvF"});
  expect_apart("https://www.facebook.com/permalink.php?story_fbid=pfbid02Abc&id=100064",
               {"https://www.facebook.com/permalink.php?story_fbid=pfbid02Abd&id=100064",
                "https://www.facebook.com/permalink.php?story_fbid=pfbid02Abc&id=100065"});
  expect_apart("https://www.facebook.com/watch?v=123456789",
               {"https://www.facebook.com/watch?v=123456788"});
}

TEST(canonical_url, tiktok_keys_user_and_video) {
  expect_key("https://www.tiktok.com/@cityfire/video/7350000000000000001",
             {"https://www.tiktok.com/@CityFire/video/"
              "7350000000000000001?is_from_webapp=1&sender_device=pc",
              "https://m.tiktok.com/@cityfire/video/7350000000000000001/?_r=1&_t=8kABC&lang=en",
              "http://tiktok.com/@cityfire/video/7350000000000000001"});
  expect_apart("https://www.tiktok.com/@cityfire/video/7350000000000000001",
               {"https://www.tiktok.com/@cityfire/video/7350000000000000002",
                "https://vm.tiktok.com/ZMhvqKp3A/"});
  EXPECT_EQ(canonical_url("https://vm.tiktok.com/ZMhvqKp3A/?_r=1"),
            "https://vm.tiktok.com/ZMhvqKp3A?_r=1")
      << "short links cannot be resolved offline: generic rules";
}

TEST(canonical_url, youtube_keys_a_video_by_its_id) {
  expect_key("https://www.youtube.com/watch?v=dQw4w9WgXcQ",
             {"https://www.youtube.com/watch?v=dQw4w9WgXcQ&feature=youtu.be&t=42s",
              "https://m.youtube.com/watch?app=desktop&v=dQw4w9WgXcQ&pp=ygU",
              "https://youtu.be/dQw4w9WgXcQ?si=AbCdEfGhIjKl&t=10",
              "https://www.youtube.com/shorts/dQw4w9WgXcQ?feature=share",
              "https://www.youtube.com/embed/dQw4w9WgXcQ?start=30",
              "https://youtube.com/live/dQw4w9WgXcQ?si=x",
              "https://music.youtube.com/watch?v=dQw4w9WgXcQ&list=RDAMVM",
              "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
              "http://www.youtube.com/watch/?v=dQw4w9WgXcQ&index=3"});
  expect_apart("https://www.youtube.com/watch?v=dQw4w9WgXcQ",
               {"https://www.youtube.com/watch?v=dQw4w9WgXcR", "https://youtu.be/dqw4w9wgxcq",
                "https://www.youtube.com/watch?v=dQw4w9WgXc"});
  EXPECT_EQ(canonical_url("https://www.youtube.com/playlist?list=PL1&si=x"),
            "https://www.youtube.com/playlist?list=PL1");
  expect_apart("https://www.youtube.com/playlist?list=PL1",
               {"https://www.youtube.com/playlist?list=PL2"});
}

TEST(canonical_url, reddit_keys_posts_and_comments_by_id) {
  expect_key("https://www.reddit.com/comments/1abc2de",
             {"https://www.reddit.com/r/CityNews/comments/1abc2de/fire_on_main_street/",
              "https://old.reddit.com/r/citynews/comments/1abc2de/fire_on_main_street/"
              "?utm_source=share&utm_medium=web2x&context=3",
              "https://np.reddit.com/r/CityNews/comments/1abc2de/",
              "http://m.reddit.com/r/CityNews/comments/1abc2de/fire?share_id=XyZ&utm_content=1",
              "https://redd.it/1abc2de", "https://new.reddit.com/r/CityNews/comments/1ABC2DE/",
              "https://www.reddit.com/gallery/1abc2de",
              "https://i.reddit.com/user/someone/comments/1abc2de/title/"});
  expect_key(
      "https://www.reddit.com/comments/1abc2de/_/kq1x2y3",
      {"https://www.reddit.com/r/CityNews/comments/1abc2de/fire_on_main_street/kq1x2y3/"
       "?context=3",
       "https://www.reddit.com/r/CityNews/comments/1abc2de/comment/kq1x2y3/?utm_source=share",
       "https://old.reddit.com/r/citynews/comments/1abc2de/_/kq1x2y3"});
  expect_apart("https://www.reddit.com/r/CityNews/comments/1abc2de/fire/",
               {"https://www.reddit.com/r/CityNews/comments/1abc2de/fire/kq1x2y3/",
                "https://www.reddit.com/r/CityNews/comments/1abc2df/fire/"});
  expect_apart("https://www.reddit.com/r/CityNews/comments/1abc2de/fire/kq1x2y3/",
               {"https://www.reddit.com/r/CityNews/comments/1abc2de/fire/kq1x2y4/"});
  EXPECT_EQ(canonical_url("https://reddit.com/r/CityNews/s/AbCdEf?utm_name=iossmf"),
            "https://www.reddit.com/r/CityNews/s/AbCdEf")
      << "share links cannot be resolved offline";
}

TEST(canonical_url, linkedin_keeps_the_path_and_drops_every_parameter) {
  expect_key(
      "https://www.linkedin.com/posts/cityfire_update-activity-7190000000000000000-AbCd",
      {"https://www.linkedin.com/posts/cityfire_update-activity-7190000000000000000-AbCd"
       "?utm_source=share&utm_medium=member_desktop",
       "https://linkedin.com/posts/cityfire_update-activity-7190000000000000000-AbCd/?trk=p&rcm=A",
       "http://m.linkedin.com/posts/cityfire_update-activity-7190000000000000000-AbCd"});
  expect_apart(
      "https://www.linkedin.com/posts/cityfire_update-activity-7190000000000000000-AbCd",
      {"https://www.linkedin.com/posts/cityfire_update-activity-7190000000000000001-AbCd"});
}

TEST(canonical_url, threads_keys_user_and_code) {
  expect_key("https://www.threads.net/@cityfire/post/C9AbCdEfGhI",
             {"https://www.threads.net/@CityFire/post/C9AbCdEfGhI?xmt=AQGz&igshid=abc",
              "https://threads.com/@cityfire/post/C9AbCdEfGhI/",
              "http://www.threads.com/@cityfire/post/C9AbCdEfGhI/media",
              "https://threads.net/@cityfire/post/C9AbCdEfGhI"});
  expect_apart("https://www.threads.net/@cityfire/post/C9AbCdEfGhI",
               {"https://www.threads.net/@cityfire/post/c9abcdefghi",
                "https://www.threads.net/@cityfire/post/C9AbCdEfGhJ"});
}

TEST(canonical_url, bluesky_keys_handle_and_record) {
  expect_key("https://bsky.app/profile/cityfire.bsky.social/post/3kq2abcdxyz2a",
             {"https://bsky.app/profile/CityFire.bsky.social/post/3kq2abcdxyz2a",
              "https://staging.bsky.app/profile/cityfire.bsky.social/post/3kq2abcdxyz2a/",
              "http://bsky.app/profile/cityfire.bsky.social/post/3kq2abcdxyz2a?ref_src=embed"});
  expect_apart("https://bsky.app/profile/cityfire.bsky.social/post/3kq2abcdxyz2a",
               {"https://bsky.app/profile/other.bsky.social/post/3kq2abcdxyz2a",
                "https://bsky.app/profile/cityfire.bsky.social/post/3kq2abcdxyz2b",
                "https://bsky.app/profile/did:plc:z72i7hdynmk6r22z27h6tvur/post/3kq2abcdxyz2a"});
}

TEST(canonical_url, fediverse_statuses_fold_within_one_instance) {
  expect_key("https://mastodon.social/@CityFire/112233445566778899",
             {"https://Mastodon.Social/@CityFire/112233445566778899",
              "http://mastodon.social/@CityFire/112233445566778899/?utm_source=x&lang=en",
              "https://mastodon.social/users/CityFire/statuses/112233445566778899"});
  EXPECT_EQ(canonical_url("https://mastodon.social/@cityfire@fire.example/112233?x=1"),
            "https://mastodon.social/@cityfire@fire.example/112233");
  expect_apart("https://mastodon.social/@CityFire/112233445566778899",
               {"https://fosstodon.org/@CityFire/112233445566778899",
                "https://mastodon.social/@CityFire/112233445566778890"});
  EXPECT_EQ(canonical_url("https://mastodon.social/@CityFire/about?page=2"),
            "https://mastodon.social/@CityFire/about?page=2")
      << "not a status: generic rules";
}

TEST(canonical_url, other_sites_follow_the_generic_rules) {
  EXPECT_EQ(canonical_url("https://news.example/a?b=2&a=1"),
            canonical_url("https://news.example/a?a=1&b=2&fbclid=zz"));
  EXPECT_EQ(canonical_url("HTTPS://NEWS.example/Story/?utm_Source=x&gclid=1&igshid=2&si=3&&#top"),
            "https://news.example/Story");
  EXPECT_EQ(canonical_url("https://news.example/find?s=fire&t=2&ref=home&feature=x"),
            "https://news.example/find?feature=x&ref=home&s=fire&t=2")
      << "s, t, ref and feature are only dropped on the platforms";
  expect_apart("https://news.example/find?s=fire",
               {"https://news.example/find?s=flood", "http://news.example/find?s=fire",
                "https://www.news.example/find?s=fire", "https://news.example/FIND?s=fire"});
  EXPECT_EQ(canonical_url("https://example.org/"), "https://example.org");
  EXPECT_EQ(canonical_url("https://example.org?"), "https://example.org");
  EXPECT_EQ(canonical_url("https://app.example/#!/post/2?x=1"), "https://app.example/post/2?x=1")
      << "a hash-bang route is the page";
  expect_apart("https://app.example/#!/post/2",
               {"https://app.example/#!/post/3", "https://app.example/#top"});
  EXPECT_EQ(canonical_url("https://app.example/a/#!/post/2"), "https://app.example/a")
      << "only on an empty path";
}

TEST(canonical_url, hostile_input_never_breaks_it) {
  EXPECT_EQ(canonical_url(""), "");
  EXPECT_EQ(canonical_url("x.com/u/status/1"), "x.com/u/status/1") << "no scheme: generic";
  EXPECT_EQ(canonical_url("https://"), "https://");
  EXPECT_EQ(canonical_url("https:///u/status/1"), "https:///u/status/1");
  EXPECT_EQ(canonical_url("javascript:alert(1)"), "javascript:alert(1)");
  EXPECT_EQ(canonical_url("JavaScript://x.com/u/status/1%0Aalert(1)"),
            "javascript://x.com/u/status/1%0Aalert(1)")
      << "only http(s) links are platform links";
  EXPECT_EQ(canonical_url("https://x.com/u/status/%31%32"), "https://x.com/u/status/%31%32");
  EXPECT_EQ(canonical_url("https://www.reddit.com/r/a/comments/%ZZ%/"),
            "https://www.reddit.com/r/a/comments/%ZZ%");
  EXPECT_EQ(canonical_url("https://x.com:443/u/status/1"), "https://x.com:443/u/status/1")
      << "a port or user info is not a listed host";
  EXPECT_EQ(canonical_url("HTTPS://X.COM/USER/STATUS/123"), "https://x.com/user/status/123");
  EXPECT_EQ(canonical_url("HTTPS://WWW.YOUTUBE.COM/WATCH?V=DQW4W9WGXCQ"),
            "https://www.youtube.com/WATCH")
      << "parameter names are exact";
  EXPECT_EQ(canonical_url("https://x.com/<n>/status/<n>"), "https://x.com/<n>/status/<n>");
  EXPECT_EQ(canonical_url("https://youtu.be/?v=&v=&&&"), "https://www.youtube.com?v=&v=");
  for (std::string_view filler : {"a", "/", "&", "?", "#", "%", "<", "@"}) {
    std::string hostile = "https://x.com/";
    for (int i = 0; i < 50'000; ++i) hostile += filler;
    hostile += "/status/1";
    EXPECT_LE(canonical_url(hostile).size(), hostile.size()) << filler;
  }
  for (std::string_view odd : {"https://x.com/#!/a#b#!/c", "https://youtu.be/#!/#!///%>#!/&%1",
                               "r#!/phttp://:u%=w=&|#!/>*", "https://@/#!/?#", "://", "#!/x"}) {
    auto key = canonical_url(odd);
    EXPECT_EQ(canonical_url(key), key) << odd;
  }
  std::string deep = "https://www.reddit.com";
  for (int i = 0; i < 10'000; ++i) deep += "/comments/abc";
  EXPECT_EQ(canonical_url(deep), "https://www.reddit.com/comments/abc");
}
