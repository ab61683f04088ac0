import Foundation
@testable import PostgresSource
import TestSupport
import Testing

/// The COPY reader waits for bursts of rows (SO_RCVLOWAT around its own poll, a 1 ms bound):
/// streams smaller than a burst, streams that pause, and big ones all arrive whole, and the
/// socket is left as libpq expects it.
@Suite("COPY read in bursts", .enabled(if: postgresAvailable))
struct CopyBurstTests {
    /// Rows of `sql`'s COPY BINARY stream (the field count of every tuple, until the end marker).
    static func countRows(_ bytes: [UInt8]) -> Int {
        var p = 19, rows = 0
        while p + 2 <= bytes.count {
            let fields = Int(Int16(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: p, as: Int16.self) }))
            p += 2
            if fields == -1 { break }
            for _ in 0..<fields {
                let len = Int(Int32(bigEndian: bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: p, as: Int32.self) }))
                p += 4 + max(len, 0)
            }
            rows += 1
        }
        return rows
    }

    @Test func smallPausedAndBigStreamsArriveWhole() throws {
        let conn = try connect()
        #expect(conn.receiveLowWatermark == 1)
        // Smaller than a burst: the end of the stream must not wait for bytes that never come.
        let started = ContinuousClock.now
        let small = try captureCopy(conn, "COPY (SELECT i, 'x' FROM generate_series(1, 10) AS i) TO STDOUT (FORMAT binary)")
        #expect(Self.countRows(small) == 10)
        #expect(ContinuousClock.now - started < .seconds(5))
        // A stream that stops for 0.3 s in the middle.
        let paused = try captureCopy(conn, """
            COPY (SELECT i, repeat('y', 100) FROM generate_series(1, 3000) AS i
                  WHERE i <> 1500 OR pg_sleep(0.3) IS NOT NULL OR true) TO STDOUT (FORMAT binary)
            """)
        #expect(Self.countRows(paused) == 3000)
        // Many bursts.
        let big = try captureCopy(conn, "COPY (SELECT i, md5(i::text) FROM generate_series(1, 300000) AS i) TO STDOUT (FORMAT binary)")
        #expect(Self.countRows(big) == 300_000)
        #expect(big.count > 10 << 20)
        // Left for libpq's own waits: the next statements on the connection still work.
        #expect(conn.receiveLowWatermark == 1)
        #expect(try conn.query("SELECT 42")[0][0] == "42")
    }
}
