// The Go peer of bench/balance_bench.cpp: the same two workloads with the same work per
// goroutine, at GOMAXPROCS=1 and 2. Prints "<workload> go<N> <ms> ms" per run.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

const itersPerUs = 250
const fanoutN = 10000
const chains = 100
const stages = 100

func costOf(i uint64) uint64 { return itersPerUs * (1 + (i*2654435761)%100) }

func work(iters uint64) uint64 {
	x := iters
	for i := uint64(0); i < iters; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func fanout() uint64 {
	results := make([]chan uint64, fanoutN)
	for i := 0; i < fanoutN; i++ {
		results[i] = make(chan uint64, 1)
		go func(i int) { results[i] <- work(costOf(uint64(i))) }(i)
	}
	var sum uint64
	for i := 0; i < fanoutN; i++ {
		sum += <-results[i]
	}
	return sum
}

func stage(chain, depth int) uint64 {
	x := work(costOf(uint64(chain*stages + depth)))
	if depth+1 < stages {
		next := make(chan uint64, 1)
		go func() { next <- stage(chain, depth+1) }()
		x += <-next
	}
	return x
}

func pipeline() uint64 {
	results := make([]chan uint64, chains)
	for c := 0; c < chains; c++ {
		results[c] = make(chan uint64, 1)
		go func(c int) { results[c] <- stage(c, 0) }(c)
	}
	var sum uint64
	for c := 0; c < chains; c++ {
		sum += <-results[c]
	}
	return sum
}

func timeMs(procs int, f func() uint64) float64 {
	runtime.GOMAXPROCS(procs)
	start := time.Now()
	if f() == 0 {
		os.Exit(3)
	}
	return float64(time.Since(start).Microseconds()) / 1000
}

func main() {
	rounds := 3
	if len(os.Args) > 1 {
		n, err := strconv.Atoi(os.Args[1])
		if err != nil || n <= 0 {
			fmt.Fprintln(os.Stderr, "usage: go_balance [rounds]")
			os.Exit(2)
		}
		rounds = n
	}
	for r := 0; r < rounds; r++ {
		fmt.Printf("fanout go1 %.1f ms\n", timeMs(1, fanout))
		fmt.Printf("fanout go2 %.1f ms\n", timeMs(2, fanout))
		fmt.Printf("pipeline go1 %.1f ms\n", timeMs(1, pipeline))
		fmt.Printf("pipeline go2 %.1f ms\n", timeMs(2, pipeline))
	}
}
