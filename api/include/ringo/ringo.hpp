// The ringo public API: Go-style routines on a thread-per-core io_uring runtime that also
// runs, unchanged, inside a deterministic simulator.
//
//   go(task)                -> JoinHandle<T>   routine on this shard (task.hpp)
//   spawn_on(shard, task)   -> JoinHandle<...> routine on another shard (cross_shard.hpp)
//   submit_to(shard, fn)    -> awaitable Result<R>: run fn there, get its result back
//   sleep(d), sleep_until(t), yield_now(), nop()                   (task.hpp, nop.hpp)
//   now(), shard_index(), shard_count()                            (this_shard.hpp)
//   blocking(fn)            -> awaitable Result<R>: run fn on the blocking pool (blocking.hpp)
//   with_timeout(d, awaitable), with_deadline(t, awaitable), TaskScope, Shield
//   chan<T>(cap) -> Sender/Receiver; select(on_recv(rx), on_send(tx, v), after(d), default_case())
//   WaitGroup, Mutex, RWMutex, Semaphore, Once, Cond, run_on(shard, task)   (sync.hpp)
//   timer_chan(d), timer(d) -> Timer, ticker(d) -> Ticker                    (time_chan.hpp)
//   fs::File, net::TcpListener, net::TcpStream, net::SocketAddr     (fs.hpp, net.hpp)
//   Runtime::create(config), block_on(task), stats(), shutdown()     (runtime.hpp)
//   raw::Lane::open() -> lane A as a stream of raw::Io / raw::RingMsg events (raw/lane.hpp)
//   prometheus_text(runtime) -> the stats as Prometheus text          (metrics.hpp)
//   ringo::sim::run(config, main) -> Report                          (sim.hpp)
//   ringo::version(), RINGO_VERSION_STRING                           (version.hpp)
#pragma once

#include "ringo/blocking.hpp"
#include "ringo/chan.hpp"
#include "ringo/cross_shard.hpp"
#include "ringo/deadline.hpp"
#include "ringo/error.hpp"
#include "ringo/fs.hpp"
#include "ringo/metrics.hpp"
#include "ringo/net.hpp"
#include "ringo/nop.hpp"
#include "ringo/raw/lane.hpp"
#include "ringo/runtime.hpp"
#include "ringo/select.hpp"
#include "ringo/select_handlers.hpp"
#include "ringo/sync.hpp"
#include "ringo/task.hpp"
#include "ringo/this_shard.hpp"
#include "ringo/time_chan.hpp"
#include "ringo/udp.hpp"
#include "ringo/unix.hpp"
#include "ringo/version.hpp"
