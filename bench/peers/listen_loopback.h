/* The raw echo peers' listener: 127.0.0.1:PORT, SO_REUSEADDR, backlog 4096. Returns the
 * socket, or -1 after saying why on stderr. type_flags: e.g. SOCK_NONBLOCK. */
#pragma once
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int listen_loopback(const char *port, int type_flags) {
  int lfd = socket(AF_INET, SOCK_STREAM | type_flags, 0), one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 4096)) {
    perror("listen_loopback");
    if (lfd >= 0) close(lfd);
    return -1;
  }
  return lfd;
}
