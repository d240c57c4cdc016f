// Go peer for bench/compare.sh: spawn+join of a goroutine, and heap+stack per blocked
// goroutine. Prints "name value unit" lines.
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

func spawnJoin(n int) float64 {
	done := make(chan int)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() { done <- 1 }()
		<-done
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

func memoryPerBlocked(n int) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	block := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() { wg.Done(); <-block }()
	}
	wg.Wait()
	runtime.ReadMemStats(&after)
	used := (after.StackInuse + after.HeapInuse) - (before.StackInuse + before.HeapInuse)
	close(block)
	return float64(used) / float64(n)
}

func main() {
	runtime.GOMAXPROCS(1)
	spawnJoin(100000) // warm up
	best := 1e18
	for r := 0; r < 5; r++ {
		if v := spawnJoin(1000000); v < best {
			best = v
		}
	}
	fmt.Printf("go_spawn_join %.1f ns\n", best)
	fmt.Printf("go_bytes_per_blocked %.0f bytes\n", memoryPerBlocked(100000))
}
