import LakeModel
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The small HTTP endpoint of the worker: `/healthz` (alive: 503 when the worker is hung),
/// `/readyz` (Redis and storage reachable) and `/metrics` (Prometheus text).
public struct HealthServer: Service {
    /// Answers readiness: nil when ready, else why not (shown in the body of a 503).
    public typealias ReadinessCheck = @Sendable () async -> String?

    public var host: String
    public var port: Int
    public var metrics: WorkerMetrics
    public var readiness: ReadinessCheck
    /// Nil while alive, else what is hung (a 503 on `/healthz`).
    public var liveness: ReadinessCheck
    public var logger: Logger
    let onBound: (@Sendable (Int) -> Void)?
    /// Open connections (the gate's counter).
    let connections = ConnectionCount()
    /// At most this many connections at once (default 128); more are closed as they arrive.
    public let maxConnections: Int
    /// A connection that sends nothing for this long is closed (default 60 s, longer than common
    /// scrape intervals, so a keep-alive scraper is not cut off between scrapes).
    public let idleTimeout: Duration
    /// Request headers larger than this (one field or all together) are refused.
    public static let maxHeaderBytes = 16 * 1024

    /// - Parameter onBound: called with the bound port (useful with port 0 in tests).
    public init(listen: String, metrics: WorkerMetrics, logger: Logger,
                readiness: @escaping ReadinessCheck, liveness: @escaping ReadinessCheck = { nil },
                onBound: (@Sendable (Int) -> Void)? = nil,
                maxConnections: Int = 128, idleTimeout: Duration = .seconds(60)) throws {
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        guard let address = ListenAddress(listen) else { throw ListenError(value: listen) }
        self.host = address.host
        self.port = address.port
        self.metrics = metrics
        self.readiness = readiness
        self.liveness = liveness
        self.logger = logger
        self.onBound = onBound
    }

    struct ListenError: Error, CustomStringConvertible {
        var value: String
        var description: String { "http.listen: expected HOST:PORT, got \"\(value)\"" }
    }

    public func run() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let ops = channel.pipeline.syncOperations
                    // A connection idle (nothing read) for `idleTimeout` is closed, and past
                    // `maxConnections` a new one is closed at once: idle clients can never use up
                    // the file descriptors that flushing needs.
                    try ops.addHandler(ConnectionGate(limit: self.maxConnections, count: self.connections))
                    try ops.addHandler(IdleStateHandler(readTimeout: .nanoseconds(
                        self.idleTimeout.components.seconds * 1_000_000_000 + self.idleTimeout.components.attoseconds / 1_000_000_000)))
                    try ops.addHandler(CloseOnIdle())
                    var limits = NIOHTTPDecoderLimitConfiguration()
                    limits.maxHeaderFieldSize = Self.maxHeaderBytes
                    limits.maxHeaderListSize = Self.maxHeaderBytes
                    limits.maxHeaderFieldCount = 100
                    try ops.configureHTTPServerPipeline(withEncoderConfiguration: .init(),
                                                        withDecoderLimitConfiguration: limits)
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        let bound = channel.channel.localAddress?.port ?? port
        logger.info("http listening", metadata: ["http.host": "\(host)", "http.port": .stringConvertible(bound)])
        onBound?(bound)
        try await withGracefulShutdownHandler {
            try await channel.executeThenClose { inbound in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            channel.channel.close(promise: nil)
        }
    }

    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let h): head = h
                    case .body: break
                    case .end:
                        guard let h = head else { continue }
                        let (status, type, body) = await respond(to: h)
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: type)
                        headers.add(name: "Content-Length", value: String(body.count))
                        if !h.isKeepAlive { headers.add(name: "Connection", value: "close") }
                        try await outbound.write(.head(HTTPResponseHead(version: h.version, status: status, headers: headers)))
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
                        try await outbound.write(.end(nil))
                        if !h.isKeepAlive { return }
                        head = nil
                    }
                }
            }
        } catch {
            logger.debug("http connection ended", metadata: ["error": "\(error)"])
        }
    }

    func respond(to head: HTTPRequestHead) async -> (HTTPResponseStatus, String, [UInt8]) {
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        guard head.method == .GET || head.method == .HEAD else {
            return (.methodNotAllowed, "text/plain", Array("method not allowed\n".utf8))
        }
        switch path {
        case "/healthz":
            if let why = await liveness() {
                return (.serviceUnavailable, "text/plain", Array("hung: \(why)\n".utf8))
            }
            return (.ok, "text/plain", Array("ok\n".utf8))
        case "/readyz":
            if let why = await readiness() {
                return (.serviceUnavailable, "text/plain", Array("not ready: \(why)\n".utf8))
            }
            return (.ok, "text/plain", Array("ready\n".utf8))
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", metrics.render())
        default:
            return (.notFound, "text/plain", Array("not found\n".utf8))
        }
    }
}

/// Closes a connection when `IdleStateHandler` reports that nothing was read for the idle timeout.
final class CloseOnIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}

/// Counts open connections and closes a new one past `limit`. A refused connection is never
/// counted, so `count` never exceeds `limit`, even while refused ones are still closing.
final class ConnectionGate: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    let limit: Int
    let count: ConnectionCount
    private var counted = false
    init(limit: Int, count: ConnectionCount) {
        self.limit = limit
        self.count = count
    }
    func channelActive(context: ChannelHandlerContext) {
        if count.value.add(1, ordering: .relaxed).newValue > limit {
            count.value.subtract(1, ordering: .relaxed)
            context.close(promise: nil)
            return
        }
        counted = true
        context.fireChannelActive()
    }
    func channelInactive(context: ChannelHandlerContext) {
        if counted {
            counted = false
            count.value.subtract(1, ordering: .relaxed)
        }
        context.fireChannelInactive()
    }
}

/// The number of open HTTP connections.
final class ConnectionCount: Sendable {
    let value = Atomic<Int>(0)
    var current: Int { value.load(ordering: .relaxed) }
}
