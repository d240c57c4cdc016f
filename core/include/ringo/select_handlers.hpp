// select with a handler per case, like Go's case bodies: the chosen case's handler runs
// once the select is decided, and the select returns what it returned.
//
//   auto next = co_await ringo::select(
//       ringo::on_recv(jobs, [&](ringo::Result<Job> j) { return j ? run(*j) : Step::stop; }),
//       ringo::on_send(out, v, [&](ringo::SendResult<int> s) { return s ? Step::sent : Step::stop; }),
//       ringo::after(1s, [] { return Step::tick; }));          // Result<Step>
//
// A receive handler takes the case's Result<T> (channel_closed on a closed channel), a send
// handler its SendResult<T> (a refused value comes back in it), after() and default_case()
// handlers nothing. Every handler returns the same type R (void allowed); the select gives
// Result<R>: the handler's value, or the select's own error (cancelled, foreign_runtime...),
// in which case no handler runs. Cases may be temporaries: the select owns them.
// when(false) on a case disables it, as a nil channel does in Go.
//
// Thread-safety: as select.hpp.
#pragma once

#include <tuple>
#include <type_traits>
#include <utility>

#include "ringo/select.hpp"

namespace ringo {

namespace detail {

template <class Case, class F>
struct WithHandler : HandledCase {
  Case c;
  F handler;

  WithHandler&& when(bool on) && noexcept {
    c.set_enabled(on);
    return std::move(*this);
  }
  // What the handler returns when this case is chosen.
  decltype(auto) run() {
    if constexpr (std::is_same_v<Case, TimeoutCase> || std::is_same_v<Case, DefaultCase>) {
      return handler();
    } else if constexpr (requires { c.error; }) {  // a send case
      using T = std::remove_cvref_t<decltype(c.value)>;
      if (c.error) return handler(SendResult<T>(std::unexpected(Rejected<T>{c.error, std::move(c.value)})));
      return handler(SendResult<T>{});
    } else {
      return handler(std::move(*c.value));
    }
  }
};

template <class H>
using HandlerResult = decltype(std::declval<H&>().run());

template <class Case>
Case& bare(Case& c) noexcept {
  return c;
}
template <class Case, class F>
Case& bare(WithHandler<Case, F>& h) noexcept {
  return h.c;
}

template <class R, class... Handled>
struct HandledSelect {
  std::tuple<Handled...> cases;
  FixedSelect<(size_t{0} + ... + (is_channel_case<decltype(std::declval<Handled&>().c)> ? 1 : 0))> inner;

  explicit HandledSelect(Handled&&... hs) : cases(std::move(hs)...) {}

  // Wired here, on the awaiter's final address: the select points into `cases`.
  bool await_ready() {
    std::apply([this](auto&... hs) { fill_select(inner, bare(hs)...); }, cases);
    return inner.await_ready();
  }
  bool await_suspend(std::coroutine_handle<> h) { return inner.await_suspend(h); }
  Result<R> await_resume() {
    Result<size_t> chosen = inner.await_resume();
    if (!chosen) return std::unexpected(chosen.error());
    return run_case(*chosen, std::index_sequence_for<Handled...>{});
  }

 private:
  template <size_t... I>
  Result<R> run_case(size_t position, std::index_sequence<I...>) {
    Result<R> out = fail(errc::invalid_argument);  // unreachable: a position is a case
    auto one = [&]<size_t J>(std::integral_constant<size_t, J>) {
      if (position != J) return;
      if constexpr (std::is_void_v<R>) {
        std::get<J>(cases).run();
        out = Result<void>{};
      } else {
        out = std::get<J>(cases).run();
      }
    };
    (one(std::integral_constant<size_t, I>{}), ...);
    return out;
  }
};

}  // namespace detail

template <class T, class F>
requires std::invocable<F&, Result<T>>
auto on_recv(Receiver<T>& rx, F handler) {
  return detail::WithHandler<RecvCase<T>, F>{{}, RecvCase<T>(rx), std::move(handler)};
}
template <class T, class V, class F>
requires std::invocable<F&, SendResult<T>>
auto on_send(Sender<T>& tx, V&& v, F handler) {
  return detail::WithHandler<SendCase<T>, F>{{}, SendCase<T>(tx, T(std::forward<V>(v))), std::move(handler)};
}
template <class F>
requires std::invocable<F&>
auto after(Duration d, F handler) {
  return detail::WithHandler<TimeoutCase, F>{{}, TimeoutCase{d}, std::move(handler)};
}
template <class F>
requires std::invocable<F&>
auto default_case(F handler) { return detail::WithHandler<DefaultCase, F>{{}, DefaultCase{}, std::move(handler)}; }

// The select of cases that all carry handlers (chosen over select.hpp's form by overload
// resolution: it is more constrained).
template <class First, class... Rest>
requires detail::is_handled<std::remove_cvref_t<First>>
auto select(First&& first, Rest&&... rest) {
  static_assert((detail::is_handled<std::remove_cvref_t<Rest>> && ...),
                "ringo::select: give every case a handler, or none (then read the results from the cases)");
  static_assert((std::is_rvalue_reference_v<First&&> && ... && std::is_rvalue_reference_v<Rest&&>),
                "ringo::select with handlers takes its cases by value: pass temporaries or std::move them");
  using R = detail::HandlerResult<std::remove_cvref_t<First>>;
  static_assert((std::is_same_v<R, detail::HandlerResult<std::remove_cvref_t<Rest>>> && ...),
                "ringo::select: every handler must return the same type");
  return detail::HandledSelect<R, std::remove_cvref_t<First>, std::remove_cvref_t<Rest>...>(
      std::forward<First>(first), std::forward<Rest>(rest)...);
}

}  // namespace ringo
