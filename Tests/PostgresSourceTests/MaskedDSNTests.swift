@testable import PostgresSource
import Testing

@Suite("Passwords never shown")
struct MaskedDSNTests {
    @Test(arguments: [
        ("host=h password=secret dbname=d", "host=h password=**** dbname=d"),
        ("password=secret", "password=****"),
        ("host=h password = secret", "host=h password = ****"),
        ("host=h password='it''s s3cr et' user=u", "host=h password=****"),
        ("host='a'b password=secret", "host='a'****"),
        ("host=h password='a\\' secret b' user=u", "host=h password=**** user=u"),
        ("host=h password=a\\ secret user=u", "host=h password=**** user=u"),
        ("host=h PASSWORD=secret", "host=h PASSWORD=****"),
        ("host=h user=secretive", "host=h user=secretive"),
        ("postgresql://u:secret@h:5432/db", "postgresql://u:****@h:5432/db"),
        ("postgres://u:secret@h/db?sslmode=require", "postgres://u:****@h/db?sslmode=require"),
        ("postgresql://u:s@cr/et@h/db", "postgresql://u:****@h/db"),
        ("postgresql://u@h/db?password=secret&sslmode=disable", "postgresql://u@h/db?password=****&sslmode=disable"),
        ("postgresql://h/db?user=u&password=secret", "postgresql://h/db?user=u&password=****"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://u:@h/db", "postgresql://u:****@h/db"),
        ("", ""),
    ])
    func masks(_ dsn: String, _ expected: String) {
        let m = maskedDSN(dsn)
        #expect(m == expected)
        for secret in ["secret", "s3cr", "cr/et", "'s"] where dsn.contains(secret) && !expected.contains(secret) {
            #expect(!m.contains(secret))
        }
    }

    /// Whatever the input, a password given to libpq never survives masking.
    @Test func maskedAgainstLibpqParse() {
        let dsns = [
            "host=h password='x y z' dbname=d", "password=abc\\'def host=h", "  password  =  'q'  ",
            "postgresql://user:pa%40ss@host/db", "postgresql://user:p:a:ss@host/db",
        ]
        for d in dsns {
            let m = maskedDSN(d)
            for p in PGConnection.passwords(in: d) {
                #expect(!m.contains(p), "\(d) -> \(m)")
            }
        }
    }

    @Test func scrubRemovesEchoedSecrets() {
        #expect(PGConnection.scrub("failed for \"hunter2\"", ["hunter2"]) == "failed for \"****\"")
    }
}

@Suite("Table names and ctid page ranges")
struct NamesAndRangesTests {
    @Test func tableNames() throws {
        #expect(try PGTableName(parsing: "Orders") == PGTableName(schema: nil, name: "orders"))
        #expect(try PGTableName(parsing: "sales.Orders") == PGTableName(schema: "sales", name: "orders"))
        #expect(try PGTableName(parsing: "\"My Schema\".\"odd.na\"\"me\"") == PGTableName(schema: "My Schema", name: "odd.na\"me"))
        #expect(PGTableName(schema: "a\"b", name: "c").quoted == "\"a\"\"b\".\"c\"")
        for bad in ["", "a.", ".b", "a.b.c", "\"open", "a\"b\"", "\"a\"b"] {
            #expect(throws: PostgresError.self, "\(bad)") { try PGTableName(parsing: bad) }
        }
        #expect(quoteLiteral("it's") == "'it''s'")
    }

    @Test func pageRanges() {
        #expect(BackfillPlan.pageRanges(pages: 0, parts: 4).count == 1)
        #expect(BackfillPlan.pageRanges(pages: 0, parts: 4)[0] == (nil, nil))
        #expect(BackfillPlan.pageRanges(pages: 100, parts: 1)[0] == (nil, nil))
        // Weights 4 4 2 1 of 11: the ranges shrink towards the end.
        let r = BackfillPlan.pageRanges(pages: 110, parts: 4)
        #expect(r.count == 4)
        #expect(r[0] == (nil, 40))
        #expect(r[1] == (40, 80))
        #expect(r[2] == (80, 100))
        #expect(r[3] == (100, nil))
        #expect(BackfillPlan.pageRanges(pages: 2, parts: 8).count == 2)
        // 8 ranges (2 jobs): 4 4 4 4 2 2 1 1 of 22.
        let eight = BackfillPlan.pageRanges(pages: 22_000, parts: 8).map { ($0.end ?? 22_000) - ($0.first ?? 0) }
        #expect(eight == [4000, 4000, 4000, 4000, 2000, 2000, 1000, 1000])
        // Any size: contiguous, every page once, at least one page each, never growing.
        for pages in 1...60 {
            for parts in 1...12 {
                let ranges = BackfillPlan.pageRanges(pages: pages, parts: parts)
                #expect(ranges.count == min(parts, pages))
                #expect(ranges.first?.first == nil && ranges.last?.end == nil)
                var at = 0
                var sizes: [Int] = []
                for (i, range) in ranges.enumerated() {
                    #expect((range.first ?? 0) == at, "\(pages) pages, \(parts) parts: range \(i)")
                    let end = range.end ?? pages
                    #expect(end > at, "\(pages) pages, \(parts) parts: range \(i) is empty")
                    sizes.append(end - at)
                    at = end
                }
                #expect(at == pages)
                if pages >= 4 * parts {
                    #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $0 + 1 >= $1 }, "\(pages) pages, \(parts) parts: \(sizes)")
                }
            }
        }
        #expect(BackfillJob.ctidCondition(firstPage: 2, endPage: 5) == "ctid >= '(2,0)'::tid AND ctid < '(5,0)'::tid")
        #expect(BackfillJob.ctidCondition(firstPage: nil, endPage: nil) == nil)
    }

    @Test func numericTypmods() {
        // numeric(12,2): typmod = (12 << 16 | 2) + 4
        #expect(PGOid.builtin(PGOid.numeric, typmod: (12 << 16 | 2) + 4) == .numeric(precision: 12, scale: 2))
        #expect(PGOid.builtin(PGOid.numeric, typmod: -1) == .numeric(precision: nil, scale: nil))
        // numeric(3,-2): the 11-bit scale field holds -2.
        #expect(PGOid.builtin(PGOid.numeric, typmod: Int32((3 << 16) | (0x7FF & -2)) + 4) == .numeric(precision: 3, scale: -2))
        #expect(PGType.decimalShape(precision: 3, scale: -2)! == (5, 0))
        #expect(PGType.decimalShape(precision: 2, scale: 5)! == (5, 5))
        #expect(PGType.decimalShape(precision: 39, scale: 2) == nil)
        #expect(PGType.decimalShape(precision: nil, scale: nil) == nil)
    }
}
