import Foundation
import Logging
import Synchronization

/// Where the commands' logs go: text lines (default) or JSON lines (`log.format: json`) on
/// stderr, bootstrapped once per process (the worker and the backfill share it).
package enum LogOutput {
    private static let bootstrapped = Mutex(false)

    /// The levels `log.level` and `--log-level` take.
    package static let levels = Logger.Level.allCases.map(\.rawValue)

    /// Installs the handler `log` names, at `log.level` for every logger made from then on (the
    /// store's and Redis' too); later calls do nothing (swift-log allows one bootstrap).
    package static func bootstrap(_ log: LogConfig) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        let json = log.format == "json"
        let level = Logger.Level(rawValue: log.level) ?? .info
        LoggingSystem.bootstrap { label in
            if json {
                var h = JSONLogHandler(label: label)
                h.logLevel = level
                return h
            }
            var h = TextLogHandler(label: label)
            h.logLevel = level
            return h
        }
    }

    /// A logger labelled `label` at the configured level.
    package static func logger(_ label: String, _ log: LogConfig) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: log.level) ?? .info
        return logger
    }
}

/// The fields every log line starts with; a metadata key equal to one of them is written with a
/// `_` prefix (`_msg`), so no line holds a key twice.
package enum LogLineKeys {
    package static let reserved: Set<String> = ["ts", "level", "label", "msg", "module"]

    package static func metadataKey(_ key: String) -> String { reserved.contains(key) ? "_" + key : key }
}

/// One JSON object per line on stderr: `ts`, `level`, `label`, `msg`, `module` (swift-log's source), then the metadata
/// sorted by key. A value given as a number or a boolean (`.stringConvertible(42)`,
/// `.stringConvertible(true)`) is written as a JSON number or boolean (a non-finite double as a
/// string), arrays and dictionaries as JSON arrays and objects, everything else as a string.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        let out = self.line(level: level, message: message.description, metadata: extra, source: source)
        FileHandle.standardError.write(Data(out.utf8))
    }

    /// The line `log` writes, newline included.
    package func line(level: Logger.Level, message: String, metadata extra: Logger.Metadata?, source: String) -> String {
        var out = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(level.rawValue)\",\"label\":" + Self.quote(label)
            + ",\"msg\":" + Self.quote(message) + ",\"module\":" + Self.quote(source)
        let all = extra.map { metadata.merging($0) { _, new in new } } ?? metadata
        for key in all.keys.sorted() {
            out += "," + Self.quote(LogLineKeys.metadataKey(key)) + ":"
            Self.append(all[key]!, to: &out)
        }
        out += "}\n"
        return out
    }

    /// `value` as JSON: numbers and booleans given as such stay numbers and booleans.
    package static func append(_ value: Logger.MetadataValue, to out: inout String) {
        switch value {
        case .string(let s): out += quote(s)
        case .stringConvertible(let v):
            switch v {
            case let b as Bool: out += b ? "true" : "false"
            case let i as any BinaryInteger: out += "\(i)"
            case let d as Double where d.isFinite: out += "\(d)"
            case let f as Float where f.isFinite: out += "\(f)"
            default: out += quote(v.description)
            }
        case .array(let values):
            out += "["
            for (i, v) in values.enumerated() {
                if i > 0 { out += "," }
                append(v, to: &out)
            }
            out += "]"
        case .dictionary(let d):
            out += "{"
            for (i, key) in d.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += quote(key) + ":"
                append(d[key]!, to: &out)
            }
            out += "}"
        }
    }

    static func quote(_ s: String) -> String { JSONText.quoted(s) }

    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
                      tmv.tm_hour, tmv.tm_min, tmv.tm_sec, ts.tv_nsec / 1_000_000)
    }
}

/// One logfmt line per event on stderr:
/// `ts=2026-12-01T10:00:00.000Z level=info label=lakewriter msg="file written" bytes=3861 … module=LakeWorker`
/// (`ts`, `level`, `label`, `msg`, the metadata sorted by key, `module` — swift-log's source — last).
/// A value is written bare when it is made of printable characters other than space, `=`, `"` and
/// `\`; otherwise it is quoted,
/// with `"` and `\` escaped and every control character (C0, DEL, C1) escaped as `\n`, `\r`, `\t` or
/// `\u001b`, so a value from an entry or a file can never start a forged log line or put raw NUL or
/// escape sequences on an operator's terminal. (Invalid UTF-8 never reaches a log: Strings made from
/// bytes hold U+FFFD for it.) Keys are ours; a character a logfmt key cannot hold becomes `_`.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        let out = self.line(level: level, message: message.description, metadata: extra, source: source)
        FileHandle.standardError.write(Data(out.utf8))
    }

    /// The line `log` writes, newline included.
    package func line(level: Logger.Level, message: String, metadata extra: Logger.Metadata?, source: String) -> String {
        let all = extra.map { metadata.merging($0) { _, new in new } } ?? metadata
        var out = "ts=" + JSONLogHandler.timestamp() + " level=" + level.rawValue + " label=" + Self.value(label)
            + " msg=" + Self.value(message)
        for key in all.keys.sorted() {
            out += " " + Self.key(LogLineKeys.metadataKey(key)) + "=" + Self.value(all[key]!.description)
        }
        out += " module=" + Self.value(source) + "\n"
        return out
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool { u.value < 0x20 || (0x7F...0x9F).contains(u.value) }

    /// `s` as a logfmt value: bare when it can be, else quoted and escaped.
    public static func value(_ s: String) -> String {
        guard s.isEmpty || s.unicodeScalars.contains(where: { $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || needsEscape($0) })
        else { return s }
        var out = "\""
        out.reserveCapacity(s.utf8.count + 8)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if needsEscape(u) {
                    out += "\\u" + String(u.value, radix: 16).leftPad(4)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// `s` as a logfmt key: characters a key cannot hold (space, `=`, `"`, controls) become `_`.
    static func key(_ s: String) -> String {
        guard !s.isEmpty else { return "_" }
        guard s.unicodeScalars.contains(where: { $0 == " " || $0 == "=" || $0 == "\"" || needsEscape($0) }) else { return s }
        var out = ""
        for u in s.unicodeScalars {
            out.unicodeScalars.append(u == " " || u == "=" || u == "\"" || needsEscape(u) ? "_" : u)
        }
        return out
    }
}
