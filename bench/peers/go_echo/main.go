// Go echo server peer for bench/echo_compare.sh: one goroutine per connection.
// Usage: go_echo ADDR   (GOMAXPROCS from the environment)
package main

import (
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		c.(*net.TCPConn).SetNoDelay(true)
		go func(c net.Conn) {
			io.CopyBuffer(c, c, make([]byte, 16*1024))
			c.Close()
		}(c)
	}
}
