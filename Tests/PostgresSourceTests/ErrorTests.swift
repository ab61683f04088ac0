import Foundation
@testable import Parquet
@testable import PostgresSource
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("PostgreSQL errors", .enabled(if: postgresAvailable))
struct ErrorTests {
    @Test func closedPortIsAConnectionErrorWithoutThePassword() throws {
        // A port nobody listens on: bind, read the port, close.
        let dsn = "host=127.0.0.1 port=\(try Self.closedPort()) user=u password=hunter2 dbname=d connect_timeout=5"
        let e = try #require(throws: PostgresError.self) { try PGConnection(dsn, logger: testLogger) }
        #expect(e.kind == .connection)
        #expect(!e.description.contains("hunter2"))
        #expect(e.description.contains("password=****"))
        let uri = "postgresql://u:hunter2@127.0.0.1:\(try Self.closedPort())/d?connect_timeout=5"
        let e2 = try #require(throws: PostgresError.self) { try PGConnection(uri, logger: testLogger) }
        #expect(e2.kind == .connection && !e2.description.contains("hunter2"))
    }

    @Test func badDSN() throws {
        let e = try #require(throws: PostgresError.self) { try PGConnection("host=h nonsense_option=1 password=s3cret") }
        #expect(e.kind == .connection)
        #expect(!e.description.contains("s3cret"))
    }

    /// The test server trusts every local connection, so a wrong password cannot fail; a role
    /// without LOGIN is refused during authentication (SQLSTATE 28000), which is the same exit.
    @Test func loginRefusedIsAuthentication() throws {
        let conn = try connect()
        let role = "lw_nologin_\(UUID().uuidString.prefix(6).lowercased())"
        try conn.exec("CREATE ROLE \(role) NOLOGIN PASSWORD 'hunter2'")
        defer { try? conn.exec("DROP ROLE \(role)") }
        let dsn = try testDSN() + " user=\(role) password=hunter2"
        let e = try #require(throws: PostgresError.self) { try PGConnection(dsn, logger: testLogger) }
        #expect(e.kind == .authentication, "\(e)")
        #expect(!e.description.contains("hunter2"))
    }

    @Test func missingTable() throws {
        let conn = try connect()
        let e = try #require(throws: PostgresError.self) {
            try PostgresCatalog(conn).relation(PGTableName(schema: "public", name: "no_such_table_lw"))
        }
        #expect(e.kind == .missingTable)
        let e2 = try #require(throws: PostgresError.self) { try conn.query("SELECT * FROM no_such_table_lw") }
        #expect(e2.kind == .missingTable && e2.sqlState == "42P01")
        #expect(e2.sql == "SELECT * FROM no_such_table_lw")
    }

    @Test func permissionDenied() throws {
        try withSchema("perm") { conn, s in
            let role = "lw_reader_\(UUID().uuidString.prefix(6).lowercased())"
            try conn.exec("CREATE TABLE \(s).secret (id int4); INSERT INTO \(s).secret VALUES (1)")
            try conn.exec("CREATE ROLE \(role) LOGIN; GRANT USAGE ON SCHEMA \(s) TO \(role)")
            defer { try? conn.exec("DROP OWNED BY \(role); DROP ROLE \(role)") }
            let reader = try PGConnection(try testDSN() + " user=\(role)", logger: testLogger)
            let plan = try BackfillPlan.table(PGTableName(schema: s, name: "secret"), catalog: PostgresCatalog(reader),
                                              parallelism: 1)
            let e = try #require(throws: PostgresError.self) {
                try reader.copy(plan.jobs[0].sql, mapping: plan.mapping, flush: { _ in })
            }
            #expect(e.kind == .permission && e.sqlState == "42501")
            #expect(e.step == "copy")
        }
    }

    /// A division by zero after rows were sent: the COPY must fail with the server's message.
    @Test func failureMidStream() throws {
        let conn = try connect()
        let sql = "COPY (SELECT g, 1 / (5000 - g) FROM generate_series(1, 10000) g) TO STDOUT (FORMAT binary)"
        var buffers = 0
        let e = try #require(throws: PostgresError.self) { try conn.copyOut(sql) { _ in buffers += 1 } }
        #expect(buffers > 0)
        #expect(e.kind == .copy && e.sqlState == "22012")
        #expect(e.message.contains("division by zero"))
        // The connection is still usable.
        #expect(try conn.query("SELECT 1")[0][0] == "1")
    }

    @Test func consumerErrorCancelsTheCopyAndKeepsTheConnection() throws {
        struct Stop: Error {}
        let conn = try connect()
        let sql = "COPY (SELECT g FROM generate_series(1, 5000000) g) TO STDOUT (FORMAT binary)"
        var n = 0
        #expect(throws: Stop.self) { try conn.copyOut(sql) { _ in n += 1; if n == 10 { throw Stop() } } }
        #expect(try conn.query("SELECT 2")[0][0] == "2")
    }

    @Test func cancelFromAnotherThread() throws {
        let conn = try connect()
        let sql = "COPY (SELECT g, pg_sleep(0.001) FROM generate_series(1, 1000000) g) TO STDOUT (FORMAT binary)"
        let started = DispatchSemaphore(value: 0)
        var first = true
        let canceller = Thread {
            started.wait()
            conn.cancel()
        }
        canceller.start()
        let e = try #require(throws: PostgresError.self) {
            try conn.copyOut(sql) { _ in if first { first = false; started.signal() } }
        }
        #expect(e.kind == .cancelled, "\(e)")
        #expect(throws: PostgresError.self) { try conn.exec("SELECT 1") }
    }

    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
