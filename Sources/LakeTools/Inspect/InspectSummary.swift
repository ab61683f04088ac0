import LakeModel
import Foundation

/// What `lakewriter inspect` shows for several files, a folder or an s3 prefix: each file's rows,
/// size and row groups, the totals, and how the files' schemas differ.
public struct InspectSummary: Sendable {
    /// One leaf column of a file's schema.
    public struct Column: Sendable, Hashable {
        public var path: String
        /// Physical type with its logical type (`INT64 (TIMESTAMP(MICROS, UTC))`).
        public var type: String
        public var repetition: String
    }

    /// One file that could be read.
    public struct File: Sendable {
        public var path: String
        public var rows: Int64
        public var bytes: Int64
        public var rowGroups: Int
        /// Index into ``schemas``.
        public var schema: Int
    }

    /// A file that could not be read, with the reason.
    public struct Failure: Sendable {
        public var path: String
        public var message: String
    }

    /// How schema `to` differs from schema `from` (`from` is always the first one seen).
    public struct Difference: Sendable {
        public var from: Int
        public var to: Int
        public var added: [Column]
        public var removed: [Column]
        /// Same path, another type or repetition.
        public var changed: [(from: Column, to: Column)]
    }

    public var files: [File] = []
    public var failures: [Failure] = []
    /// Distinct schemas in order of first appearance; a file names its schema by index.
    public var schemas: [[Column]] = []
    /// Files of each schema.
    public var schemaFiles: [Int] = []

    public var rows: Int64 { files.reduce(0) { $0 &+ $1.rows } }
    public var bytes: Int64 { files.reduce(0) { $0 &+ $1.bytes } }

    public init() {}

    /// Adds a file's report (its schema matched against those seen so far).
    public mutating func add(_ report: InspectReport) {
        let columns = report.schema.filter(\.isLeaf).map {
            Column(path: $0.path, type: $0.physical + ($0.logical.isEmpty ? "" : " (\($0.logical))"), repetition: $0.repetition)
        }
        let index: Int
        if let i = schemas.firstIndex(of: columns) {
            index = i
            schemaFiles[i] += 1
        } else {
            index = schemas.count
            schemas.append(columns)
            schemaFiles.append(1)
        }
        files.append(File(path: report.path, rows: report.rows, bytes: report.fileBytes,
                          rowGroups: report.rowGroups.count + report.rowGroupsOmitted, schema: index))
    }

    public mutating func fail(_ path: String, _ message: String) {
        failures.append(Failure(path: path, message: message))
    }

    /// Every schema after the first, compared with the first.
    public var differences: [Difference] {
        guard let first = schemas.first else { return [] }
        let base = Dictionary(first.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        return schemas.indices.dropFirst().map { i in
            let other = Dictionary(schemas[i].map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
            return Difference(from: 0, to: i,
                              added: schemas[i].filter { base[$0.path] == nil },
                              removed: first.filter { other[$0.path] == nil },
                              changed: first.compactMap { c in other[c.path].flatMap { $0 == c ? nil : (c, $0) } })
        }
    }

    /// `A`, `B`, … `Z`, `AA`, …: how the text names schema `i`.
    static func label(_ i: Int) -> String {
        var n = i, out = ""
        repeat {
            out = String(UnicodeScalar(UInt8(65 + n % 26))) + out
            n = n / 26 - 1
        } while n >= 0
        return out
    }

    /// A table of the files, the totals and the schema differences.
    public var text: String {
        var out = ""
        let width = min(max(files.map(\.path.count).max() ?? 4, 4), 120)
        func pad(_ s: String, _ n: Int, right: Bool = false) -> String {
            s.count >= n ? s : (right ? String(repeating: " ", count: n - s.count) + s : s + String(repeating: " ", count: n - s.count))
        }
        out += pad("FILE", width) + "  " + pad("ROWS", 12, right: true) + "  " + pad("BYTES", 14, right: true)
            + "  " + pad("ROW GROUPS", 10, right: true) + "  SCHEMA\n"
        for f in files {
            out += pad(TextSafe.line(f.path), width) + "  " + pad("\(f.rows)", 12, right: true) + "  " + pad("\(f.bytes)", 14, right: true)
                + "  " + pad("\(f.rowGroups)", 10, right: true) + "  " + Self.label(f.schema) + "\n"
        }
        out += "\(files.count) file\(files.count == 1 ? "" : "s"), \(rows) row\(rows == 1 ? "" : "s"), \(bytes) bytes"
        if !failures.isEmpty { out += ", \(failures.count) unreadable" }
        out += "\n"
        if schemas.count == 1 {
            out += "one schema (\(schemas[0].count) columns)\n"
        } else if schemas.count > 1 {
            out += "\(schemas.count) schemas: " + schemas.indices.map { "\(Self.label($0)) in \(schemaFiles[$0]) file\(schemaFiles[$0] == 1 ? "" : "s")" }
                .joined(separator: ", ") + "\n"
            for d in differences {
                out += "\(Self.label(d.to)) differs from \(Self.label(d.from)):\n"
                for c in d.added { out += "  + \(TextSafe.line(c.path)): \(c.repetition) \(c.type)\n" }
                for c in d.removed { out += "  - \(TextSafe.line(c.path)): \(c.repetition) \(c.type)\n" }
                for (a, b) in d.changed {
                    out += "  ~ \(TextSafe.line(a.path)): \(a.repetition) \(a.type) → \(b.repetition) \(b.type)\n"
                }
            }
        }
        return out
    }

    public var json: String {
        func q(_ s: String) -> String { JSONText.quoted(s) }
        func col(_ c: Column) -> String { "{\"path\":\(q(c.path)),\"type\":\(q(c.type)),\"repetition\":\(q(c.repetition))}" }
        var out = "{\"files\":["
        out += files.map { "{\"path\":\(q($0.path)),\"rows\":\($0.rows),\"bytes\":\($0.bytes),\"row_groups\":\($0.rowGroups),\"schema\":\($0.schema)}" }
            .joined(separator: ",")
        out += "],\"total\":{\"files\":\(files.count),\"rows\":\(rows),\"bytes\":\(bytes)}"
        out += ",\"schemas\":[" + schemas.indices.map { i in
            "{\"id\":\(i),\"files\":\(schemaFiles[i]),\"columns\":[" + schemas[i].map(col).joined(separator: ",") + "]}"
        }.joined(separator: ",") + "]"
        out += ",\"differences\":[" + differences.map { d in
            "{\"from\":\(d.from),\"to\":\(d.to),\"added\":[" + d.added.map(col).joined(separator: ",") + "],\"removed\":["
                + d.removed.map(col).joined(separator: ",") + "],\"changed\":["
                + d.changed.map { "{\"from\":\(col($0.from)),\"to\":\(col($0.to))}" }.joined(separator: ",") + "]}"
        }.joined(separator: ",") + "]"
        out += ",\"errors\":[" + failures.map { "{\"path\":\(q($0.path)),\"error\":\(q($0.message))}" }.joined(separator: ",") + "]}"
        return out
    }
}

/// Text from files and keys made safe for one line of a terminal (control characters escaped).
enum TextSafe {
    static func line(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            if u.value < 0x20 || (0x7F...0x9F).contains(u.value) { out += "\\u{" + String(u.value, radix: 16) + "}" } else { out.unicodeScalars.append(u) }
        }
        return out
    }
}
