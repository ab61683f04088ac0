@testable import LakeModel
import Foundation
import Logging
import Parquet
import Testing
import TestSupport

/// Log lines are valid logfmt (text) or JSON, read back by real parsers; they cannot be forged from
/// data (control characters are escaped), and numbers given as numbers stay numbers in JSON.
@Suite struct LogOutputTests {
    static let tricky: [String: String] = [
        "space": "two words", "equals": "a=b", "quote": "say \"hi\"", "backslash": "C:\\tmp",
        "newline": "a\n2026-12-01T00:00:00Z info forged: x", "controls": "nul\u{0}esc\u{1B}[31mdel\u{7F}c1\u{85}\r\t",
        "empty": "", "unicode": "ünï\u{FFFD}", "plain": "orders", "dotted.key": "x",
    ]

    @Test func textLinesAreLogfmtThatRoundTrips() throws {
        let handler = TextLogHandler(label: "lakewriter")
        var metadata: Logger.Metadata = [:]
        for (k, v) in Self.tricky { metadata[k] = .string(v) }
        metadata["bytes"] = .stringConvertible(3861)
        metadata["msg"] = "a metadata key named like a field"
        metadata["source"] = "public.orders"  // a metadata key, not swift-log's source
        let line = handler.line(level: .warning, message: "upload failed, retrying: \"x\" = y\n", metadata: metadata,
                                source: "LakeWorker")
        #expect(line.hasSuffix("\n"))
        let body = String(line.dropLast())
        #expect(!body.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }, "\(body)")
        let pairs = try Logfmt.parse(body)
        #expect(pairs.prefix(4).map { $0.key } == ["ts", "level", "label", "msg"])
        #expect(pairs.last?.key == "module")
        let f = try Logfmt.fields(body)
        #expect(f["level"] == "warning" && f["label"] == "lakewriter" && f["module"] == "LakeWorker")
        #expect(f["msg"] == "upload failed, retrying: \"x\" = y\n")
        #expect(f["_msg"] == "a metadata key named like a field" && f["source"] == "public.orders")
        #expect(f["bytes"] == "3861")
        for (k, v) in Self.tricky { #expect(f[k] == v, "\(k)") }
        #expect(ISO8601DateFormatter.withFractions().date(from: f["ts"]!) != nil, "\(f["ts"]!)")
        // Bare where it can be, quoted only when it must be.
        #expect(body.contains(" plain=orders ") && body.contains(" bytes=3861 ") && body.contains(" empty=\"\" "))
        #expect(body.contains(" controls=\"nul\\u0000esc\\u001b[31mdel\\u007fc1\\u0085\\r\\t\" "))
    }

    @Test func textValueQuoting() {
        #expect(TextLogHandler.value("plain-value_1.2:3/x") == "plain-value_1.2:3/x")
        #expect(TextLogHandler.value("a b") == "\"a b\"")
        #expect(TextLogHandler.value("k=v") == "\"k=v\"")
        #expect(TextLogHandler.value("a\\b") == "\"a\\\\b\"")
        #expect(TextLogHandler.value("\"") == "\"\\\"\"")
        #expect(TextLogHandler.value("") == "\"\"")
        #expect(TextLogHandler.value("ünï") == "ünï")
        for s in ["a\nb", "\u{0}", "x\u{1B}y", "\u{9B}"] {
            #expect(!TextLogHandler.value(s).unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        }
        #expect(TextLogHandler.key("a b=c\"d\n") == "a_b_c_d_")
    }

    struct Line: Decodable {
        var ts: String, level: String, label: String, msg: String, module: String
        var bytes: Int, seconds: Double, ratio: Double, ok: Bool, id: String, nan: String, text: String
        var list: [Int], nested: [String: String]
    }

    @Test func jsonLinesKeepNumbersAndBooleans() throws {
        let handler = JSONLogHandler(label: "lakewriter")
        let metadata: Logger.Metadata = [
            "bytes": .stringConvertible(3861), "seconds": .stringConvertible(0.125), "ratio": .stringConvertible(1e-5),
            "ok": .stringConvertible(true), "id": "3861", "nan": .stringConvertible(Double.nan),
            "text": .string("a\n\"b\"\u{1B}"), "list": .array([.stringConvertible(1), .stringConvertible(UInt64.max >> 1)]),
            "nested": .dictionary(["k": "v"]),
        ]
        let line = handler.line(level: .info, message: "file written", metadata: metadata, source: "LakeWorker")
        #expect(line.hasSuffix("}\n") && !line.dropLast().contains("\n"))
        // Typed decoding fails if a number came out as a string ("bytes":"3861") or a string as a number.
        let decoded = try JSONDecoder().decode(Line.self, from: Data(line.utf8))
        #expect(decoded.bytes == 3861 && decoded.seconds == 0.125 && decoded.ratio == 1e-5 && decoded.ok)
        #expect(decoded.id == "3861" && decoded.nan == "nan" && decoded.text == "a\n\"b\"\u{1B}")
        #expect(decoded.list == [1, Int(UInt64.max >> 1)] && decoded.nested == ["k": "v"])
        #expect(decoded.msg == "file written" && decoded.level == "info" && decoded.module == "LakeWorker")
        guard let python = TestEnvironment.python else { return }
        // Python's json module as a second parser, with the types it sees.
        let r = try ProcessRunner.run(python, ["-c", """
            import json, sys
            d = json.loads(sys.stdin.read())
            print(",".join(f"{k}:{type(d[k]).__name__}" for k in sorted(d)))
            """], stdin: Data(line.utf8))
        #expect(r.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines) == "bytes:int,id:str,label:str,level:str,list:list,"
            + "module:str,msg:str,nan:str,nested:dict,ok:bool,ratio:float,seconds:float,text:str,ts:str")
    }

    @Test func typesAreWrittenAsTheConfigSpellsThem() throws {
        #expect("\(ColumnType.int(bits: 64, signed: true))" == "int64")
        #expect("\(ColumnType.decimal(precision: 12, scale: 2))" == "decimal(12,2)")
        #expect("\(try ColumnTypeParser.parseField("list<struct<sku:string not null, qty:int32>>").type)" == "list<struct<sku:string not null, qty:int32>>")
        #expect("\(ParquetType.timestamp(.micros, adjustedToUTC: true))" == "timestamp(us, utc)")
        #expect("\(ParquetType.decimal(precision: 12, scale: 2))" == "decimal(12,2)")
        #expect("\(ParquetType.map(key: .required("key", .string), value: .optional("value", .int64)))" == "map<string not null, int64>")
        #expect("\(ParquetType.list(.optional("element", .double)))" == "list<float64>")
        #expect("\(CompressionError(codec: .lz4Raw, message: "x"))" == "lz4_raw compression failed: x")
    }
}

extension ISO8601DateFormatter {
    static func withFractions() -> ISO8601DateFormatter {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }
}
