import Foundation

/// Compiler runs side by side: the runtime's missing parts and a trainer's generated files go
/// into one queue, so that the cores stay busy until the last object is done (a model's file no
/// longer waits for the whole runtime and then compiles alone on one core).
enum CompileQueue {
    /// One compile: its estimated cost (jobs start costliest first, which keeps the last one to
    /// finish short) and the work, which throws its failure.
    struct Job: Sendable {
        let cost: Double
        let run: @Sendable () throws -> Void
    }

    /// Runs every job, at most `width` at once, and returns each one's failure (nil when it
    /// succeeded) in the order given. A failing job does not stop the others: which failure is
    /// reported is the caller's choice, and it sees them all.
    static func run(_ jobs: [Job], width: Int) -> [Error?] {
        let order = jobs.indices.sorted { jobs[$0].cost != jobs[$1].cost ? jobs[$0].cost > jobs[$1].cost : $0 < $1 }
        let state = QueueState(count: jobs.count)
        DispatchQueue.concurrentPerform(iterations: max(1, min(width, jobs.count))) { _ in
            while let next = state.take() {
                let index = order[next]
                do {
                    try jobs[index].run()
                } catch {
                    state.fail(index, error)
                }
            }
        }
        return state.failures
    }
}

/// The next job to start and the failures so far, shared by the queue's workers.
private final class QueueState: @unchecked Sendable {
    private let lock = NSLock()
    private var started = 0
    private var errors: [Error?]

    init(count: Int) { errors = Array(repeating: nil, count: count) }

    /// The position (in start order) of the next job, nil when all have started.
    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard started < errors.count else { return nil }
        started += 1
        return started - 1
    }

    func fail(_ index: Int, _ error: Error) {
        lock.lock()
        errors[index] = error
        lock.unlock()
    }

    var failures: [Error?] {
        lock.lock()
        defer { lock.unlock() }
        return errors
    }
}
