// bench-redis: read+ack of N small stream entries in COUNT 1000 batches, the RedisStreams async
// consumer (reader thread + prefetch, acks pipelined on the command connection) against the C
// hiredis loop in peer.c, on the same redis-server in the same run. Filling the streams is untimed.
//
//   bench-redis --url redis://127.0.0.1:PORT/0 --peer /path/to/peer [--entries 1000000] [--rounds 3]
import Foundation
import Logging
import RedisStreams

struct Options {
    var url = "redis://127.0.0.1:6379/0"
    var peer = ""
    var entries = 1_000_000
    var rounds = 3
    /// "swift" or "c" runs one side only (for profiling).
    var only: String?

    init(_ args: [String]) {
        var i = 1
        func value() -> String {
            i += 1
            guard i < args.count else { fatalError("missing value for \(args[i - 1])") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--url": url = value()
            case "--peer": peer = value()
            case "--entries": entries = Int(value())!
            case "--rounds": rounds = Int(value())!
            case "--only": only = value()
            default: fatalError("unknown option \(args[i])")
            }
            i += 1
        }
        if peer.isEmpty { fatalError("--peer PATH (the compiled peer.c) is required") }
    }
}

func runPeer(_ options: Options, _ arguments: [String]) throws -> String {
    guard case .tcp(let host, let port) = try RedisConfiguration(url: options.url).endpoint else {
        fatalError("the benchmark needs a TCP URL")
    }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: options.peer)
    p.arguments = [arguments[0], host, "\(port)"] + arguments.dropFirst()
    let out = Pipe()
    p.standardOutput = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { fatalError("peer \(arguments) exited \(p.terminationStatus)") }
    return String(decoding: data, as: UTF8.self)
}

func swiftReadAck(_ options: Options, stream: String, logger: Logger) async throws -> Double {
    let redis = try RedisConfiguration(url: options.url)
    let client = RedisStreamClient(configuration: redis, logger: logger)
    try await client.createGroup(stream: stream, group: "bench")
    _ = try await client.command(["PING"])  // the ack connection is open before the clock starts
    var config = StreamConsumer.Configuration(streams: [stream], group: "bench", consumer: "swift")
    config.count = 1000
    config.createGroups = false
    let clock = ContinuousClock()
    let start = clock.now
    let consumer = StreamConsumer(redis: redis, configuration: config, logger: logger)
    var total = 0
    var valueBytes = 0
    // Acks overlap the next batches as a worker's would (it acknowledges after its flush, not
    // before reading on); at most two are in flight, so a slow server still slows the reader.
    var acks: [Task<Int, Error>] = []
    for try await batch in consumer {
        // Touch every value, as a decoder would.
        for f in batch.fields { valueBytes &+= f.value.count }
        total += batch.count
        acks.append(Task { try await client.ack(batch, group: "bench") })
        if acks.count > 2 { _ = try await acks.removeFirst().value }
        if total >= options.entries { break }
    }
    for a in acks { _ = try await a.value }
    let elapsed = clock.now - start
    consumer.stop()
    precondition(total == options.entries && valueBytes > 0)
    let pending = try await client.pending(stream: stream, group: "bench")
    precondition(pending.count == 0, "entries left pending: \(pending.count)")
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return Double(total) / seconds
}

let options = Options(CommandLine.arguments)
var logger = Logger(label: "bench-redis")
logger.logLevel = .warning
let admin = RedisStreamClient(configuration: try RedisConfiguration(url: options.url), logger: logger)

var swiftRates: [Double] = []
var cRates: [Double] = []

@MainActor func runSwift(_ round: Int) async throws {
    let s = "bench-swift-\(round)-\(getpid())"
    _ = try runPeer(options, ["fill", s, "\(options.entries)"])
    swiftRates.append(try await swiftReadAck(options, stream: s, logger: logger))
    _ = try await admin.command(["DEL", s])
}

@MainActor func runC(_ round: Int) async throws {
    let c = "bench-c-\(round)-\(getpid())"
    _ = try runPeer(options, ["fill", c, "\(options.entries)"])
    let out = try runPeer(options, ["read", c, "\(options.entries)"])
    guard let rate = out.split(separator: " ").last.flatMap({ Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
        fatalError("unexpected peer output: \(out)")
    }
    cRates.append(rate)
    _ = try await admin.command(["DEL", c])
}

// Alternate which side goes first, so a load spike on this shared machine does not always hit the
// same one; the best round of each is compared.
for round in 1...options.rounds {
    if let only = options.only {
        if only == "swift" { try await runSwift(round); cRates.append(.nan) } else { try await runC(round); swiftRates.append(.nan) }
    } else if round % 2 == 1 {
        try await runSwift(round)
        try await runC(round)
    } else {
        try await runC(round)
        try await runSwift(round)
    }
    func show(_ r: Double) -> String { r.isNaN ? "-" : "\(Int(r))" }
    print("round \(round): swift \(show(swiftRates.last!)) entries/s, c \(show(cRates.last!)) entries/s")
}

let bestSwift = swiftRates.filter { !$0.isNaN }.max() ?? .nan, bestC = cRates.filter { !$0.isNaN }.max() ?? .nan
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
print("")
print("redis read+ack, \(options.entries) entries, COUNT 1000, best of \(options.rounds) rounds")
print(pad("implementation", 44) + "entries/s")
print(pad("RedisStreams (Swift, async consumer)", 44) + (bestSwift.isNaN ? "-" : "\(Int(bestSwift))"))
print(pad("peer.c (hiredis loop, pipelined XACK)", 44) + (bestC.isNaN ? "-" : "\(Int(bestC))"))
print(pad("ratio swift / c", 44) + String(format: "%.2f", bestSwift / bestC))
