import NIOCore

/// Runs a request's task on its connection's event loop, so a handler that does not block costs no thread
/// hop in either direction. Handlers that wait on something else (the store writer, a platform API)
/// suspend and resume on the loop as usual.
///
/// Handlers must not block: on this executor a blocking call stalls every connection of the loop.
final class EventLoopTaskExecutor: TaskExecutor {
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute {
            job.runSynchronously(on: self.asUnownedTaskExecutor())
        }
    }
}
