import NIOCore

/// The connection side of a streamed response body: takes a producer's chunk on the event loop and resumes
/// the producer when the client may have more (at once, or later through ``WriterWaiters``), or fails it
/// with ``ResponseStreamClosed``.
protocol StreamedBodySink: AnyObject, SendableMetatype {
    /// `stream` names the response on connections that carry several (HTTP/2); HTTP/1.1 ignores it.
    func enqueueChunk(_ bytes: [UInt8], stream: Int32, _ continuation: CheckedContinuation<Void, any Error>)
}

/// The ``ResponseBodyWriter`` both protocols hand to a streamed body's producer: each chunk hops to the
/// connection's event loop and the producer waits there while the client is not reading. Generic over the
/// connection, so the hop calls it directly rather than through an existential.
struct StreamedBodyWriter<Sink: StreamedBodySink>: ResponseBodyWriter {
    let sink: NIOLoopBound<Sink>
    let eventLoop: any EventLoop
    let stream: Int32

    func write(_ bytes: [UInt8]) async throws {
        guard !Task.isCancelled else { throw ResponseStreamClosed() }
        try await withCheckedThrowingContinuation { continuation in
            eventLoop.execute { sink.value.enqueueChunk(bytes, stream: stream, continuation) }
        }
    }
}

/// Producers of streamed bodies waiting for the client to read: resumed together once it has caught up,
/// failed together once it is gone.
struct WriterWaiters {
    private var waiting: [CheckedContinuation<Void, any Error>] = []

    var isEmpty: Bool { waiting.isEmpty }

    mutating func add(_ continuation: CheckedContinuation<Void, any Error>) {
        waiting.append(continuation)
    }

    /// Resumes every waiter; the list is emptied first, as a resumed producer may write again at once.
    mutating func resumeAll() {
        guard !waiting.isEmpty else { return }
        let waiters = waiting
        waiting.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    /// Fails every waiter: the response stream is closed.
    mutating func failAll() {
        guard !waiting.isEmpty else { return }
        let waiters = waiting
        waiting.removeAll()
        for waiter in waiters { waiter.resume(throwing: ResponseStreamClosed()) }
    }
}
