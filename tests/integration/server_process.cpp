#include "tests/integration/server_process.hpp"

#include "server/auth/jwt.hpp"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace muster::test {

namespace fs = std::filesystem;

server_process::server_process(std::vector<std::string> args, unsigned max_open_files) {
  std::random_device rd;
  dir_ = fs::temp_directory_path() /
         ("musterd-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(dir_);
  auto port_file = dir_ / "port";
  std::vector<std::string> argv_s = {MUSTERD_PATH, "--port-file", port_file.string(), "--set",
                                     "log.level=\"debug\""};
  // A free port unless the test names one.
  if (std::find(args.begin(), args.end(), "--listen") == args.end())
    argv_s.insert(argv_s.begin() + 1, {"--listen", "127.0.0.1:0"});
  // Tests that are not about auth run without it, unless they set any auth.* key themselves.
  bool auth_given = false;
  for (auto& a : args) auth_given |= a.starts_with("auth.");
  if (!auth_given) {
    argv_s.push_back("--set");
    argv_s.push_back("auth.enabled=false");
  }
  // The default engine, with its database in this process's own directory.
  bool engine_given = false;
  for (auto& a : args) engine_given |= a.starts_with("engine.");
  if (!engine_given) {
    argv_s.push_back("--set");
    argv_s.push_back("engine.type=\"embedded\"");
    argv_s.push_back("--set");
    argv_s.push_back("storage.path=\"" + (dir_ / "muster.db").string() + "\"");
  }
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto log = (dir_ / "musterd.log").string();
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    // If the test process dies (a timeout kill, a crash), so does this child: no orphans.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (max_open_files) {
      rlimit lim{max_open_files, max_open_files};
      ::setrlimit(RLIMIT_NOFILE, &lim);
    }
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    ::dup2(::fileno(stdout), 2);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream f(port_file);
    unsigned p = 0;
    if (f >> p && p) {
      port_ = static_cast<std::uint16_t>(p);
      if (unsigned q = 0; f >> q) internal_port_ = static_cast<std::uint16_t>(q);
      return;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      auto text = this->log();
      std::error_code ec;
      fs::remove_all(dir_, ec);  // the destructor will not run
      throw std::runtime_error("musterd exited at start-up:\n" + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop();
  auto text = this->log();
  std::error_code ec;
  fs::remove_all(dir_, ec);
  throw std::runtime_error("musterd did not start listening in time:\n" + text);
}

server_process::~server_process() {
  stop();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string server_process::log() const {
  std::ifstream f(dir_ / "musterd.log");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void server_process::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

bool server_process::running() {
  if (pid_ <= 0) return false;
  int status;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

std::optional<int> server_process::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

int server_process::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -2;
  ::kill(pid_, SIGTERM);
  if (auto status = wait_exit(timeout)) return *status;
  kill_hard();
  return -1;
}

std::unique_ptr<client::blocking_client> connect_client(const server_process& s,
                                                        const std::string& name) {
  auto c = std::make_unique<client::blocking_client>(s.endpoint());
  c->connect(name);
  return c;
}

std::pair<int, std::string> http_get(std::uint16_t port, const std::string& target) {
  namespace net = boost::asio;
  namespace http = boost::beast::http;
  net::io_context ioc;
  boost::beast::tcp_stream stream(ioc);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  http::write(stream, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(stream, buf, res);
  return {static_cast<int>(res.result_int()), res.body()};
}

http_reply http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const std::string& body, const std::string& bearer,
                        const std::map<std::string, std::string>& headers) {
  namespace net = boost::asio;
  namespace http = boost::beast::http;
  net::io_context ioc;
  boost::beast::tcp_stream stream(ioc);
  stream.connect(net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!bearer.empty()) req.set(http::field::authorization, "Bearer " + bearer);
  if (!body.empty()) req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  http::write(stream, req);
  boost::beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  parser.skip(method == "HEAD");  // a HEAD answer announces a body it does not carry
  http::read(stream, buf, parser);
  auto res = parser.release();
  http_reply out;
  out.status = static_cast<int>(res.result_int());
  out.body = res.body();
  for (const auto& f : res) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  return out;
}

std::string test_token(const std::string& sub, const std::string& role,
                       std::vector<std::string> channels, std::chrono::seconds ttl) {
  server::auth::identity who;
  who.subject = sub;
  who.name = sub;
  who.role = *server::auth::parse_role(role);
  who.channels = std::move(channels);
  return server::auth::mint(who, test_secret, ttl);
}

std::vector<std::string> auth_args() {
  return {"--set", "auth.enabled=true", "--set",
          std::string("auth.secret=\"") + test_secret + "\""};
}

}  // namespace muster::test
