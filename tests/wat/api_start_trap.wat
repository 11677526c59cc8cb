;; Fixture of tests/api_engine.c: the start function traps.
(module
  (func $start unreachable)
  (start $start))
