// bench-redis: read+ack of N small stream entries in COUNT 1000 batches, the RedisStreams async
// consumer (reader thread + prefetch, acks pipelined on the command connection) against the C
// hiredis loop in peer.c, on the same redis-server in the same run. Filling the streams is untimed.
//
//   bench-redis --url redis://127.0.0.1:PORT/0 --peer /path/to/peer [--entries 1000000] [--rounds 3]
//               [--tls-url rediss://127.0.0.1:PORT/0 --tls-ca ca.crt [--tls-tunnel PORT]]
//               [--cluster-url redis+cluster://127.0.0.1:PORT,…]
//
// --tls-url adds a row: the same consumer over TLS (against a server with the same settings), as a
// ratio to the plain-TCP row; --tls-tunnel is a plain port that forwards to the TLS one (socat), for
// the C loop over TLS. --cluster-url adds a row: the same entries in three streams, one per shard.
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
    var tlsURL: String?
    var tlsCA: String?
    var tlsTunnel: Int?
    var clusterURL: String?

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
            case "--tls-url": tlsURL = value()
            case "--tls-ca": tlsCA = value()
            case "--tls-tunnel": tlsTunnel = Int(value())!
            case "--cluster-url": clusterURL = value()
            default: fatalError("unknown option \(args[i])")
            }
            i += 1
        }
        if peer.isEmpty { fatalError("--peer PATH (the compiled peer.c) is required") }
    }
}

func runPeer(_ options: Options, _ arguments: [String], port fixedPort: Int? = nil) throws -> String {
    guard case .tcp(let host, let urlPort) = try RedisConfiguration(url: options.url).endpoint else {
        fatalError("the benchmark needs a TCP URL")
    }
    let port = fixedPort ?? urlPort
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
    try await swiftReadAck(redis: try RedisConfiguration(url: options.url), streams: [stream], entries: options.entries,
                           logger: logger)
}

/// Reads and acknowledges `entries` from `streams` (created and filled already).
func swiftReadAck(redis: RedisConfiguration, streams: [String], entries: Int, logger: Logger) async throws -> Double {
    let client = RedisStreamClient(configuration: redis, logger: logger)
    defer { client.close() }
    for stream in streams {
        try await client.createGroup(stream: stream, group: "bench")
        _ = try await client.command(["XLEN", stream])  // the ack connections are open before the clock starts
    }
    var config = StreamConsumer.Configuration(streams: streams, group: "bench", consumer: "swift")
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
        if acks.count > 2 * streams.count { _ = try await acks.removeFirst().value }
        if total >= entries { break }
    }
    for a in acks { _ = try await a.value }
    let elapsed = clock.now - start
    consumer.stop()
    precondition(total == entries && valueBytes > 0)
    for stream in streams {
        let pending = try await client.pending(stream: stream, group: "bench")
        precondition(pending.count == 0, "entries left pending on \(stream): \(pending.count)")
    }
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    return Double(total) / seconds
}

let options = Options(CommandLine.arguments)
var logger = Logger(label: "bench-redis")
logger.logLevel = .warning
let admin = RedisStreamClient(configuration: try RedisConfiguration(url: options.url), logger: logger)

var swiftRates: [Double] = []
var cRates: [Double] = []
var tlsRates: [Double] = []
var tlsCRates: [Double] = []
var clusterRates: [Double] = []

func tlsConfiguration() throws -> RedisConfiguration? {
    guard let url = options.tlsURL else { return nil }
    var c = try RedisConfiguration(url: url)
    c.tls?.caFile = options.tlsCA
    return c
}

@MainActor func runTLS(_ round: Int) async throws {
    guard let tls = try tlsConfiguration() else { return }
    let s = "bench-tls-\(round)-\(getpid())"
    // Filled over the tunnel (or plain port) by the C peer: untimed.
    guard let tunnel = options.tlsTunnel else { fatalError("--tls-url needs --tls-tunnel (a plain path for filling)") }
    _ = try runPeer(options, ["fill", s, "\(options.entries)"], port: tunnel)
    tlsRates.append(try await swiftReadAck(redis: tls, streams: [s], entries: options.entries, logger: logger))
    let c = "bench-tls-c-\(round)-\(getpid())"
    _ = try runPeer(options, ["fill", c, "\(options.entries)"], port: tunnel)
    let out = try runPeer(options, ["read", c, "\(options.entries)"], port: tunnel)
    tlsCRates.append(out.split(separator: " ").last.flatMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? .nan)
    let admin = RedisStreamClient(configuration: tls, logger: logger)
    defer { admin.close() }
    _ = try await admin.command(["DEL", s])
    _ = try await admin.command(["DEL", c])
}

/// Three streams, one per shard (hash tags chosen by slot range), a third of the entries each.
@MainActor func runCluster(_ round: Int) async throws {
    guard let url = options.clusterURL else { return }
    let config = try RedisConfiguration(url: url)
    let admin = RedisStreamClient(configuration: config, logger: logger)
    defer { admin.close() }
    // CLUSTER SLOTS: [start, end, [host, port, …], …] per range.
    let slots = try await admin.command(["CLUSTER", "SLOTS"]).array ?? []
    var owners: [(ClosedRange<Int>, Int)] = []
    for r in slots {
        guard let a = r.array, a.count >= 3, let lo = a[0].int, let hi = a[1].int, let port = a[2].array?[1].int else { continue }
        owners.append((lo...hi, port))
    }
    var streams: [(String, Int)] = []
    var used = Set<Int>()
    for i in 0..<10_000 where streams.count < owners.count {
        let name = "{bench-\(round)-\(i)}"
        let slot = HashSlot.of(name)
        if let o = owners.first(where: { $0.0.contains(slot) }), used.insert(o.1).inserted { streams.append((name, o.1)) }
    }
    let per = options.entries / streams.count
    for (s, port) in streams { _ = try runPeer(options, ["fill", s, "\(per)"], port: port) }
    clusterRates.append(try await swiftReadAck(redis: config, streams: streams.map(\.0), entries: per * streams.count,
                                               logger: logger))
    for (s, _) in streams { _ = try await admin.command(["DEL", s]) }
}

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
    if options.only == nil {
        try await runTLS(round)
        try await runCluster(round)
    }
    func show(_ r: Double?) -> String { r.map { $0.isNaN ? "-" : "\(Int($0))" } ?? "-" }
    print("round \(round): swift \(show(swiftRates.last)) entries/s, c \(show(cRates.last)) entries/s, "
          + "tls \(show(tlsRates.last)), c over tls \(show(tlsCRates.last)), cluster \(show(clusterRates.last))")
}

let bestSwift = swiftRates.filter { !$0.isNaN }.max() ?? .nan, bestC = cRates.filter { !$0.isNaN }.max() ?? .nan
func pad(_ s: String, _ n: Int) -> String { s.count >= n ? s : s + String(repeating: " ", count: n - s.count) }
print("")
print("redis read+ack, \(options.entries) entries, COUNT 1000, best of \(options.rounds) rounds")
print(pad("implementation", 44) + "entries/s")
print(pad("RedisStreams (Swift, async consumer)", 44) + (bestSwift.isNaN ? "-" : "\(Int(bestSwift))"))
print(pad("peer.c (hiredis loop, pipelined XACK)", 44) + (bestC.isNaN ? "-" : "\(Int(bestC))"))
print(pad("ratio swift / c", 44) + String(format: "%.2f", bestSwift / bestC))
if let bestTLS = tlsRates.max() {
    let bestTLSC = tlsCRates.filter { !$0.isNaN }.max() ?? .nan
    print(pad("RedisStreams over TLS", 44) + "\(Int(bestTLS))")
    print(pad("peer.c over TLS (socat tunnel)", 44) + (bestTLSC.isNaN ? "-" : "\(Int(bestTLSC))"))
    print(pad("ratio swift tls / swift plain", 44) + String(format: "%.2f", bestTLS / bestSwift))
    print(pad("ratio swift tls / c over tls", 44) + String(format: "%.2f", bestTLS / bestTLSC))
}
if let bestCluster = clusterRates.max() {
    print(pad("RedisStreams on a 3-shard cluster", 44) + "\(Int(bestCluster))")
    print(pad("ratio cluster / single node", 44) + String(format: "%.2f", bestCluster / bestSwift))
}
