// Go peer for bench/compare.sh: spawn+join of a goroutine, heap+stack per blocked
// goroutine, channels, select, and a syscall made by another goroutine (blocking pool). Prints "name value unit" lines.
package main

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// perOp runs f(n) and returns ns per operation, best of 3.
func perOp(n int, f func(n int)) float64 {
	best := 1e18
	for r := 0; r < 3; r++ {
		start := time.Now()
		f(n)
		if v := float64(time.Since(start).Nanoseconds()) / float64(n); v < best {
			best = v
		}
	}
	return best
}

func pingPong(n int) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	for i := 0; i < n; i++ {
		ping <- 1
		<-pong
	}
	close(ping)
}

func spsc(n int) {
	ch := make(chan int, 1024)
	done := make(chan int)
	go func() {
		c := 0
		for range ch {
			c++
		}
		done <- c
	}()
	for i := 0; i < n; i++ {
		ch <- 1
	}
	close(ch)
	<-done
}

func mpsc(n int) {
	ch := make(chan int, 1024)
	var wg sync.WaitGroup
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func() {
			for i := 0; i < n/4; i++ {
				ch <- 1
			}
			wg.Done()
		}()
	}
	for i := 0; i < (n/4)*4; i++ {
		<-ch
	}
	wg.Wait()
}

func selectThree(n int) {
	a, b, c := make(chan int, 1), make(chan int, 1), make(chan int, 1)
	for i := 0; i < n; i++ {
		b <- 1
		select {
		case <-a:
		case <-b:
		case <-c:
		}
	}
}

func selectDefault(n int) {
	a, b, c := make(chan int, 1), make(chan int, 1), make(chan int, 1)
	for i := 0; i < n; i++ {
		select {
		case <-a:
		case <-b:
		case <-c:
		default:
		}
	}
}

func selectHundred(n int) {
	chans := make([]chan int, 100)
	cases := make([]reflect.SelectCase, 100)
	for i := range chans {
		chans[i] = make(chan int, 1)
		cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(chans[i])}
	}
	for i := 0; i < n; i++ {
		chans[i%100] <- 1
		reflect.Select(cases)
	}
}

func spawnJoin(n int) float64 {
	done := make(chan int)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() { done <- 1 }()
		<-done
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// getppid through syscall.Syscall, which enters and leaves the scheduler's syscall state
// (syscall.Getppid is a raw syscall that skips it).
func getppid() int {
	r, _, _ := syscall.Syscall(syscall.SYS_GETPPID, 0, 0, 0)
	return int(r)
}

// The peer of ringo's blocking(fn) round trip: a goroutine makes the syscall and answers
// on a channel (the caller parks; if the syscall blocked, its P would be handed off).
func syscallRoundTrip(n int) {
	done := make(chan int)
	for i := 0; i < n; i++ {
		go func() { done <- getppid() }()
		<-done
	}
}

// 64 goroutines making the syscall at once, per call.
func syscallConcurrent64(n int) {
	var wg sync.WaitGroup
	per := n / 64
	wg.Add(64)
	for g := 0; g < 64; g++ {
		go func() {
			for i := 0; i < per; i++ {
				getppid()
			}
			wg.Done()
		}()
	}
	wg.Wait()
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
	fmt.Printf("go_ping_pong_same %.1f ns\n", perOp(300000, pingPong))
	fmt.Printf("go_spsc_1024 %.1f ns\n", perOp(2000000, spsc))
	fmt.Printf("go_mpsc_4to1 %.1f ns\n", perOp(2000000, mpsc))
	fmt.Printf("go_select_3_one_ready %.1f ns\n", perOp(1000000, selectThree))
	fmt.Printf("go_select_default_3 %.1f ns\n", perOp(2000000, selectDefault))
	fmt.Printf("go_select_100 %.1f ns\n", perOp(200000, selectHundred))
	fmt.Printf("go_syscall_round_trip %.1f ns\n", perOp(1000000, syscallRoundTrip))
	fmt.Printf("go_syscall_concurrent_64 %.1f ns\n", perOp(6400000, syscallConcurrent64))
	runtime.GOMAXPROCS(2)
	fmt.Printf("go_syscall_round_trip_two_procs %.1f ns\n", perOp(1000000, syscallRoundTrip))
	fmt.Printf("go_ping_pong_two_procs %.1f ns\n", perOp(200000, pingPong))
	fmt.Printf("go_spsc_1024_two_procs %.1f ns\n", perOp(2000000, spsc))
}
