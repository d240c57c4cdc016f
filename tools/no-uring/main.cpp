// no-uring: runs a program the way Docker's default seccomp profile would, with
// io_uring_setup, io_uring_enter and io_uring_register refused (EPERM), so ringo's
// automatic backend selection can be seen falling back to AIO.
//
//   no-uring ./build/debug/examples/ringo-demo
//
// Exits 125 if the filter cannot be installed, 127 if the program cannot be run.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "refuse_io_uring.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
  if (!ringo::tools::refuse_io_uring()) {
    std::fprintf(stderr, "no-uring: cannot install the seccomp filter: %s\n", std::strerror(errno));
    return 125;
  }
  execvp(argv[1], argv + 1);
  std::fprintf(stderr, "no-uring: cannot run %s: %s\n", argv[1], std::strerror(errno));
  return 127;
}
