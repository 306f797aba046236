import HeraldIO

/// The engine's clocks (HeraldIO owns the system calls).
typealias Clock = SystemClock
