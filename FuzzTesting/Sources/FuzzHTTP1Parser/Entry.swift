#if FUZZING
/// libFuzzer's entry point (scripts/fuzz builds with `-DFUZZING`; libFuzzer supplies `main`).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    check(Array(UnsafeBufferPointer(start: start, count: count)))
    return 0
}
#endif
