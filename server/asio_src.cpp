// The one translation unit that compiles Asio's and Beast's implementation (separate
// compilation), so the other files only instantiate what they use.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
