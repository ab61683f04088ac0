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
            return StreamLogHandler.standardError(label: label)
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
