import CLibPQ
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection (`PGconn*`), closed when the object goes away.
///
/// Blocking: every call waits for the server, so run it on a thread of its own (one per
/// job), never on Swift's cooperative pool.
///
/// Thread safety, and why `@unchecked Sendable` is sound: libpq allows one thread at a
/// time per `PGconn`. Every method except ``cancel()`` must therefore be called from one
/// thread at a time (the job thread that owns the connection); the type is Sendable only
/// so it can be handed to that thread and so ``cancel()`` can be called from any other
/// thread: it touches only the `PGcancel` object made at connect time (libpq documents
/// `PQcancel` as safe from other threads and signal handlers) and an atomic flag.
package final class PGConnection: @unchecked Sendable {
    /// The conninfo or URI with the password masked, for logs.
    package let maskedDSN: String
    private let conn: OpaquePointer
    private let cancelHandle: OpaquePointer?
    private let cancelRequested = Atomic<Bool>(false)
    /// Secrets libpq might echo (the DSN's password, PGPASSWORD): scrubbed from messages.
    private let secrets: [String]
    private let logger: Logger

    /// Connects with a libpq conninfo (`host=… dbname=…`) or URI (`postgresql://…`); PG*
    /// environment variables and `~/.pgpass` apply as libpq defines.
    package init(_ dsn: String, logger: Logger = Logger(label: "lakewriter.postgres")) throws(PostgresError) {
        self.logger = logger
        maskedDSN = PostgresSource.maskedDSN(dsn)
        secrets = Self.passwords(in: dsn)
        logger.debug("connecting", metadata: ["postgres.dsn": "\(maskedDSN)"])
        guard let c = PQconnectdb(dsn) else {
            throw PostgresError(.connection, step: "connect", message: "libpq could not allocate a connection")
        }
        guard PQstatus(c) == CONNECTION_OK else {
            let raw = Self.scrub(String(cString: PQerrorMessage(c)), secrets)
            PQfinish(c)
            let message = raw.trimmingTrailingNewlines
            throw PostgresError(Self.connectionKind(message), step: "connect",
                                message: "\(message) (dsn: \(maskedDSN))")
        }
        conn = c
        cancelHandle = PQgetCancel(c)
        // Notices (NOTICE: drop cascades to …) go to the logger at debug, not to stderr. The
        // connection, and with it the processor, goes away in deinit, before self does.
        PQsetNoticeProcessor(c, { arg, message in
            guard let arg, let message else { return }
            let me = Unmanaged<PGConnection>.fromOpaque(arg).takeUnretainedValue()
            me.logger.debug("server notice", metadata: ["postgres.notice": "\(String(cString: message).trimmingTrailingNewlines)"])
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    deinit {
        if let cancelHandle { PQfreeCancel(cancelHandle) }
        PQfinish(conn)
    }

    /// The server's version number (150004 for 15.4).
    package var serverVersion: Int { Int(PQserverVersion(conn)) }

    /// A run-time parameter the server reports (`client_encoding`, `server_encoding`, …).
    package func parameterStatus(_ name: String) -> String? {
        PQparameterStatus(conn, name).map { String(cString: $0) }
    }

    /// True when every text value this connection receives is valid UTF-8 because the server
    /// checked it: the client encoding is UTF8 (the server converts to it, and a conversion
    /// never yields invalid bytes) and the server encoding is not SQL_ASCII (the only one
    /// whose text PostgreSQL stores unchecked). Decoders then skip their own validation.
    package var deliversValidUTF8: Bool {
        parameterStatus("client_encoding") == "UTF8" && parameterStatus("server_encoding") != "SQL_ASCII"
    }

    /// Runs statements whose results are not needed (BEGIN, SET, DDL in tests).
    package func exec(_ sql: String, step: String = "exec") throws(PostgresError) {
        try checkNotCancelled(step, sql)
        let res = PQexec(conn, sql)
        defer { PQclear(res) }
        try check(res, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK], step: step, sql: sql)
    }

    /// Runs a query with text parameters (`$1`, `$2`) and returns its rows as text, NULL as nil.
    /// For catalog queries, not for data: values come back in PostgreSQL's text form.
    package func query(_ sql: String, _ parameters: [String?] = [], step: String = "query") throws(PostgresError)
        -> [[String?]]
    {
        try checkNotCancelled(step, sql)
        let values: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0)! } }
        defer { for v in values { free(v) } }
        let res = values.withUnsafeBufferPointer { vs in
            vs.withMemoryRebound(to: UnsafePointer<CChar>?.self) { p in
                PQexecParams(conn, sql, Int32(parameters.count), nil, p.baseAddress, nil, nil, 0)
            }
        }
        defer { PQclear(res) }
        try check(res, expecting: [PGRES_TUPLES_OK, PGRES_COMMAND_OK], step: step, sql: sql)
        let rows = Int(PQntuples(res)), cols = Int(PQnfields(res))
        var out: [[String?]] = []
        out.reserveCapacity(rows)
        for r in 0..<rows {
            var row: [String?] = []
            row.reserveCapacity(cols)
            for c in 0..<cols {
                row.append(PQgetisnull(res, Int32(r), Int32(c)) != 0 ? nil
                           : String(cString: PQgetvalue(res, Int32(r), Int32(c))))
            }
            out.append(row)
        }
        return out
    }

    /// One column of a statement's result, as `PQdescribePrepared` reports it.
    package struct ResultColumn: Sendable, Hashable {
        package var name: String
        package var typeOid: UInt32
        package var typmod: Int32
    }

    /// The result columns of `sql` without running it (`PQprepare` + `PQdescribePrepared`
    /// on the unnamed statement).
    package func describe(_ sql: String) throws(PostgresError) -> [ResultColumn] {
        try checkNotCancelled("describe", sql)
        let prep = PQprepare(conn, "", sql, 0, nil)
        defer { PQclear(prep) }
        try check(prep, expecting: [PGRES_COMMAND_OK], step: "describe", sql: sql)
        let res = PQdescribePrepared(conn, "")
        defer { PQclear(res) }
        try check(res, expecting: [PGRES_COMMAND_OK], step: "describe", sql: sql)
        return (0..<PQnfields(res)).map { i in
            ResultColumn(name: String(cString: PQfname(res, i)), typeOid: UInt32(PQftype(res, i)),
                         typmod: PQfmod(res, i))
        }
    }

    /// Bytes of rows gathered before ``copyOut(_:consume:)`` hands them over.
    package static let copyStageBytes = 256 << 10

    /// Runs `sql` (a `COPY … TO STDOUT`) and hands the stream to `consume` (each buffer valid
    /// only during the call) as runs of whole CopyData messages, in order: every row libpq has
    /// received, up to ``copyStageBytes`` (a bigger message alone). Then it checks how the
    /// statement ended: an error raised by the server mid-stream (division by zero in the
    /// query, cancellation, a dropped connection) throws with the server's message, even though
    /// rows were already delivered.
    ///
    /// If `consume` throws, the COPY is cancelled, the connection drained so it stays usable,
    /// and `consume`'s error rethrown.
    package func copyOut(_ sql: String, consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        try checkNotCancelled("copy", sql)
        let start = PQexec(conn, sql)
        do {
            defer { PQclear(start) }
            try check(start, expecting: [PGRES_COPY_OUT], step: "copy", sql: sql)
        }
        var consumerError: (any Error)? = nil
        var buffers = 0
        // The server sends one CopyData message (one row) at a time and libpq hands each over in
        // its own buffer: rows are gathered here into one contiguous region, handed over whenever
        // libpq has no complete row buffered (so nothing waits on the network) or the region is
        // full, so the consumer runs once per network read, not once per row.
        let stageCapacity = Self.copyStageBytes
        let stage = UnsafeMutableRawPointer.allocate(byteCount: stageCapacity, alignment: 16)
        defer { stage.deallocate() }
        var staged = 0
        func deliver(_ bytes: UnsafeRawBufferPointer) {
            guard consumerError == nil, bytes.count > 0 else { return }
            buffers += 1
            do {
                try consume(bytes)
            } catch {
                consumerError = error
                requestServerCancel()
            }
        }
        func flushStage() {
            if staged > 0 {
                let n = staged
                staged = 0
                deliver(UnsafeRawBufferPointer(start: stage, count: n))
            }
        }
        while true {
            var buf: UnsafeMutablePointer<CChar>? = nil
            var n = PQgetCopyData(conn, &buf, 1)  // 0: no complete row buffered yet
            if n == 0 {
                // libpq's buffer (16 KiB) is drained: take what the socket holds without waiting,
                // so the stage fills to its size while rows keep coming; wait only on an empty
                // socket (a failed read is reported by the blocking call below).
                if PQconsumeInput(conn) == 1 { n = PQgetCopyData(conn, &buf, 1) }
                if n == 0 {
                    flushStage()
                    // The socket is empty: wait for a burst (or a millisecond), then read it; a
                    // stream with no row in that time waits in libpq as before.
                    if waitForBurst(), PQconsumeInput(conn) == 1 { n = PQgetCopyData(conn, &buf, 1) }
                    if n == 0 { n = PQgetCopyData(conn, &buf, 0) }
                }
            }
            if n > 0, let b = buf {
                defer { PQfreemem(b) }
                if consumerError != nil { continue }  // draining after a consumer error
                let count = Int(n)
                if staged + count > stageCapacity { flushStage() }
                if count > stageCapacity {
                    deliver(UnsafeRawBufferPointer(start: b, count: count))
                } else {
                    (stage + staged).copyMemory(from: b, byteCount: count)
                    staged += count
                }
            } else {
                // -1: the COPY is done; -2: the connection failed (the result below says why, if it can).
                break
            }
        }
        flushStage()
        // The final result(s): COMMAND_OK, or the error that ended the COPY.
        var failure: PostgresError? = nil
        while let res = PQgetResult(conn) {
            defer { PQclear(res) }
            if failure == nil {
                do { try check(res, expecting: [PGRES_COMMAND_OK], step: "copy", sql: sql, defaultKind: .copy) }
                catch { failure = error }
            }
        }
        if let consumerError { throw consumerError }
        if let failure { throw failure }
        if PQstatus(conn) != CONNECTION_OK {
            throw PostgresError(.connection, step: "copy", message: lastError(), sql: sql)
        }
        logger.trace("copy finished", metadata: ["postgres.copy.buffers": .stringConvertible(buffers)])
    }

    /// Waits until the socket holds a burst of rows (``burstBytes``) or ``burstWaitMilliseconds`` passed,
    /// whichever comes first, so a reader faster than the server wakes once per burst instead of
    /// once per TCP segment. True when the wait ran (then read the socket); SO_RCVLOWAT is set
    /// only around this poll, never around libpq's own waits (which would then wait for bytes
    /// the end of a stream never brings).
    private func waitForBurst() -> Bool {
        let fd = PQsocket(conn)
        guard fd >= 0 else { return false }
        var low = Int32(Self.burstBytes)
        guard setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &low, socklen_t(MemoryLayout<Int32>.size)) == 0 else { return false }
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, Self.burstWaitMilliseconds)
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, socklen_t(MemoryLayout<Int32>.size))
        return true
    }

    static let burstBytes = 128 << 10
    static let burstWaitMilliseconds: Int32 = 1

    /// The socket's SO_RCVLOWAT (tests: 1 again after every COPY, or libpq's waits would hang).
    package var receiveLowWatermark: Int32? {
        let fd = PQsocket(conn)
        guard fd >= 0 else { return nil }
        var v: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &v, &len) == 0 ? v : nil
    }

    /// Asks the server to cancel the running statement; callable from any thread. The
    /// statement then fails with kind ``PostgresError/Kind-swift.enum/cancelled``, and later
    /// statements on this connection are refused (discard it).
    package func cancel() {
        cancelRequested.store(true, ordering: .sequentiallyConsistent)
        requestServerCancel()
    }

    /// True once ``cancel()`` was called.
    package var isCancelled: Bool { cancelRequested.load(ordering: .sequentiallyConsistent) }

    private func requestServerCancel() {
        guard let cancelHandle else { return }
        var errbuf = [CChar](repeating: 0, count: 256)
        if PQcancel(cancelHandle, &errbuf, 256) == 0 {
            logger.debug("cancel request failed", metadata: ["postgres.error": "\(String(decoding: errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))"])
        }
    }

    // MARK: - Errors

    private func checkNotCancelled(_ step: String, _ sql: String) throws(PostgresError) {
        if isCancelled {
            throw PostgresError(.cancelled, step: step, message: "the connection was cancelled", sql: sql)
        }
    }

    private func lastError() -> String {
        Self.scrub(String(cString: PQerrorMessage(conn)), secrets).trimmingTrailingNewlines
    }

    private func check(_ res: OpaquePointer?, expecting ok: [ExecStatusType], step: String, sql: String,
                       defaultKind: PostgresError.Kind = .query) throws(PostgresError) {
        guard let res else {
            throw PostgresError(PQstatus(conn) == CONNECTION_OK ? defaultKind : .connection, step: step,
                                message: lastError(), sql: sql)
        }
        let status = PQresultStatus(res)
        if ok.contains(status) { return }
        func field(_ code: UInt8) -> String? {
            guard let p = PQresultErrorField(res, Int32(code)) else { return nil }
            return Self.scrub(String(cString: p), secrets)
        }
        let state = field(UInt8(ascii: "C"))
        var message = field(UInt8(ascii: "M")) ?? Self.scrub(String(cString: PQresultErrorMessage(res)), secrets)
            .trimmingTrailingNewlines
        if message.isEmpty {
            message = status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR
                ? lastError() : "unexpected result status \(String(cString: PQresStatus(status)))"
        }
        var kind = PostgresError.kind(sqlState: state, default: defaultKind)
        if state == nil && PQstatus(conn) != CONNECTION_OK { kind = .connection }
        if isCancelled && kind != .connection { kind = .cancelled }
        throw PostgresError(kind, step: step, message: message, sqlState: state, detail: field(UInt8(ascii: "D")),
                            hint: field(UInt8(ascii: "H")), sql: sql)
    }

    static func connectionKind(_ message: String) -> PostgresError.Kind {
        let m = message.lowercased()
        for s in ["password authentication failed", "authentication failed", "no pg_hba.conf entry",
                  "no password supplied", "not permitted to log in", "pg_hba.conf rejects"] where m.contains(s) {
            return .authentication
        }
        return .connection
    }

    /// Passwords present in `dsn` (as libpq parses it) and PGPASSWORD.
    static func passwords(in dsn: String) -> [String] {
        var out: [String] = []
        if let env = getenv("PGPASSWORD") { let s = String(cString: env); if !s.isEmpty { out.append(s) } }
        guard let opts = PQconninfoParse(dsn, nil) else { return out }
        defer { PQconninfoFree(opts) }
        var p = opts
        while let key = p.pointee.keyword {
            if String(cString: key) == "password", let v = p.pointee.val {
                let s = String(cString: v)
                if !s.isEmpty { out.append(s) }
            }
            p += 1
        }
        return out
    }

    static func scrub(_ message: String, _ secrets: [String]) -> String {
        var m = message
        for s in secrets where m.contains(s) { m = m.replacing(s, with: "****") }
        return m
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while let l = s.last, l == "\n" || l == " " { s.removeLast() }
        return String(s)
    }
}
