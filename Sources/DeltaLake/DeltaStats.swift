import LakeModel
import Parquet

/// The `stats` of an `add` action, from the file's own footer statistics: `numRecords`, and per
/// top-level scalar column `nullCount`, `minValues` and `maxValues` (integers, decimals, dates,
/// timestamps and strings; booleans, floats, binary and nested columns get a null count only,
/// or nothing). Readers use them to skip files by value.
package enum DeltaStats {
    enum Value {
        case integer(Int128)
        case bytes([UInt8])

        static func < (a: Value, b: Value) -> Bool {
            switch (a, b) {
            case (.integer(let x), .integer(let y)): return x < y
            case (.bytes(let x), .bytes(let y)): return x.lexicographicallyPrecedes(y)
            default: return false
            }
        }
    }

    /// The statistics JSON (itself a string inside the `add` action).
    /// - Parameter schema: the file's schema; `metadata` its footer.
    package static func json(schema: ParquetSchema, metadata: FileMetaData) -> String {
        var mins: [(String, String)] = [], maxs: [(String, String)] = [], nulls: [(String, String)] = []
        for field in schema.fields where !field.type.isGroup {
            guard let leaf = schema.columns.firstIndex(where: { $0.path == [field.name] }) else { continue }
            var nullCount: Int64? = 0
            var lo: Value?, hi: Value?
            var complete = true
            for rg in metadata.rowGroups {
                guard leaf < rg.columns.count, let meta = rg.columns[leaf].metaData else { complete = false; continue }
                let st = meta.statistics
                if let n = st?.nullCount, let c = nullCount { nullCount = c + n } else { nullCount = nil }
                // A row group of nulls only has no bounds and changes none.
                if let n = st?.nullCount, rg.numRows > 0, n == rg.numRows { continue }
                guard let st, let minBytes = st.minValue, let maxBytes = st.maxValue,
                      let a = decode(minBytes, field.type), let b = decode(maxBytes, field.type) else { complete = false; continue }
                if lo == nil || a < lo! { lo = a }
                if hi == nil || hi! < b { hi = b }
            }
            if let n = nullCount { nulls.append((field.name, String(n))) }
            if complete, let lo, let hi, let l = render(lo, field.type), let h = render(hi, field.type) {
                mins.append((field.name, l))
                maxs.append((field.name, h))
            }
        }
        func object(_ items: [(String, String)]) -> String {
            "{" + items.map { JSONText.quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
        }
        return #"{"numRecords":"# + String(metadata.numRows) + #","minValues":"# + object(mins)
            + #","maxValues":"# + object(maxs) + #","nullCount":"# + object(nulls) + "}"
    }

    static func decode(_ b: [UInt8], _ type: ParquetType) -> Value? {
        func le<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard b.count == MemoryLayout<T>.size else { return nil }
            return b.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
        }
        switch type {
        case .int8, .int16, .int32, .date: return le(Int32.self).map { .integer(Int128($0)) }
        case .uint8, .uint16, .uint32: return le(UInt32.self).map { .integer(Int128($0)) }
        case .int64, .timestamp: return le(Int64.self).map { .integer(Int128($0)) }
        case .decimal(let p, _):
            if p <= 9 { return le(Int32.self).map { .integer(Int128($0)) } }
            if p <= 18 { return le(Int64.self).map { .integer(Int128($0)) } }
            guard !b.isEmpty, b.count <= 16 else { return nil }
            var v: Int128 = b[0] & 0x80 != 0 ? -1 : 0
            for x in b { v = v << 8 | Int128(x) }
            return .integer(v)
        case .string: return .bytes(b)
        default: return nil
        }
    }

    /// A statistic as Delta writes it: numbers plain, dates and timestamps as quoted ISO text.
    static func render(_ v: Value, _ type: ParquetType) -> String? {
        switch (v, type) {
        case (.integer(let x), .decimal(_, let s)): return ValueText.decimal(x, scale: s)
        case (.integer(let x), .date): return JSONText.quoted(ValueText.date(days: Int(x)))
        case (.integer(let x), .timestamp(let unit, let utc)):
            let (ps, digits): (Int64, Int) = unit == .millis ? (1000, 3) : (1_000_000, 6)
            return JSONText.quoted(isoTimestamp(Int64(x), perSecond: ps, digits: digits, utc: utc))
        case (.integer(let x), _): return String(x)
        case (.bytes(let b), .string):
            guard let s = String(validating: b, as: UTF8.self) else { return nil }
            return JSONText.quoted(s)
        default: return nil
        }
    }

    /// `YYYY-MM-DDTHH:MM:SS.fff[fff]` with every fraction digit, `Z` when UTC.
    package static func isoTimestamp(_ v: Int64, perSecond ps: Int64, digits: Int, utc: Bool) -> String {
        ValueText.timestamp(v, perSecond: ps, digits: digits, utc: utc, everyDigit: true)
    }
}
