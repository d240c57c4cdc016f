// transfer_all: the loop behind TcpStream::read_exact/write_all (net.cpp) and
// File::read_exact_at/write_all_at (fs.cpp). It repeats one transfer op until the whole
// buffer has moved, because one op may move less (a short read, a partial send, a buffer
// above io::kMaxTransfer). Private to api/.
//
// Contract: step(done) returns the awaitable (io::SizeAwaiter) that moves the part from
// byte `done` on. The first error ends the loop with that error. An op that moves nothing
// ends it with `on_zero` (errc::unexpected_eof for a read, EIO for a file that takes
// nothing); when on_zero is empty the op is tried again, as a stream write does (a send
// of a non-empty buffer never returns 0 on Linux). The task allocates its one frame; the
// caller keeps the buffer and the object that step() uses alive until it completes.
#pragma once

#include <cstddef>
#include <system_error>

#include "ringo/task.hpp"

namespace ringo::io::detail {

// Implemented in terms of the engine's internals.
using namespace ringo::detail;

template <class Step>
Task<Result<void>> transfer_all(size_t size, Step step, std::error_code on_zero) {
  size_t done = 0;
  while (done < size) {
    Result<size_t> n = co_await step(done);
    if (!n) co_return std::unexpected(n.error());
    if (*n == 0 && on_zero) co_return std::unexpected(on_zero);
    done += *n;
  }
  co_return Result<void>{};
}

}  // namespace ringo::io::detail
