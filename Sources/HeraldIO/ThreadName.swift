import CURing

/// Names the calling thread for `top -H`, `perf` and core dumps (the
/// kernel keeps 15 bytes).
public func setCurrentThreadName(_ name: String) {
    herald_set_thread_name(String(name.prefix(15)))
}
