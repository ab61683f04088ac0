import Foundation
import Logging
import Synchronization

/// Where the commands' logs go: text lines (default) or JSON lines (`log.format: json`) on
/// stderr, bootstrapped once per process (the worker and the backfill share it).
package enum LogOutput {
    private static let bootstrapped = Mutex(false)

    /// Installs the handler `log` names; later calls do nothing (swift-log allows one bootstrap).
    package static func bootstrap(_ log: LogConfig) {
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        let json = log.format == "json"
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label) }
            return TextLogHandler(label: label)
        }
    }

    /// A logger labelled `label` at the configured level.
    package static func logger(_ label: String, _ log: LogConfig) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: log.level) ?? .info
        return logger
    }
}

/// One JSON object per line on stderr: `ts`, `level`, `label`, `msg`, then the metadata.
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
        var out = "{\"ts\":\"\(Self.timestamp())\",\"level\":\"\(level)\",\"label\":" + Self.quote(label)
            + ",\"msg\":" + Self.quote(message.description)
        let all = metadata.merging(extra ?? [:]) { _, new in new }
        for key in all.keys.sorted() { out += "," + Self.quote(key) + ":" + Self.quote("\(all[key]!)") }
        out += "}\n"
        FileHandle.standardError.write(Data(out.utf8))
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

/// One line per event on stderr, like swift-log's `StreamLogHandler` (`ts level label: k=v [source]
/// message`), but every control character of the message and of metadata keys and values is
/// escaped (`\n`, `\r`, `\t`, `\u{1b}`…), so a value from an entry or a file can never start a
/// forged log line or put raw NUL or escape sequences on an operator's terminal. (Invalid UTF-8
/// never reaches a log: Strings made from bytes hold U+FFFD for it.)
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
        let all = metadata.merging(extra ?? [:]) { _, new in new }
        var out = JSONLogHandler.timestamp() + " \(level) " + Self.escape(label) + ":"
        for key in all.keys.sorted() { out += " " + Self.escape(key) + "=" + Self.escape("\(all[key]!)") }
        out += " [" + Self.escape(source) + "] " + Self.escape(message.description) + "\n"
        FileHandle.standardError.write(Data(out.utf8))
    }

    /// `s` with control characters (C0, DEL, C1) escaped.
    public static func escape(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) else { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count + 8)
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 || (0x7F...0x9F).contains(u.value) {
                    out += "\\u{" + String(u.value, radix: 16) + "}"
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }
}
