import LakeModel
import LakeWorker
import LakeOutput
import ObjectStore
import LakeDecoding
import Foundation
import Parquet

/// **LakeTools** — the commands besides `run`: `convert`, `inspect`, `check-config` (`--connect`: Redis and the store) and
/// `dlq stats` / `dlq replay` (Redis, see `DeadLetterCommands.swift`).
///
/// The logic behind the `lakewriter` commands, kept here so tests call it directly and the
/// executable only parses arguments. Each returns the exit status and writes its own output.
public enum Commands {
    /// Where a command's output goes (stdout and stderr in the CLI, buffers in tests).
    /// An ``Output`` that keeps what a command writes (tests, and callers that want the text).
    public final class CapturedOutput: @unchecked Sendable {
        // Commands write from one thread at a time; the lock keeps it safe anyway.
        private let lock = NSLock()
        private var outText = ""
        private var errText = ""
        public init() {}
        public var out: String { lock.withLock { outText } }
        public var err: String { lock.withLock { errText } }
        public var output: Output {
            Output(out: { s in self.lock.withLock { self.outText += s } }, err: { s in self.lock.withLock { self.errText += s } })
        }
    }

    public struct Output: Sendable {
        public var out: @Sendable (String) -> Void
        public var err: @Sendable (String) -> Void
        /// Binary standard output (`convert --output -`); by default the bytes go to `out` as UTF-8.
        public var data: @Sendable (Data) -> Void
        /// True when standard output is a terminal (`convert --output -` refuses to write Parquet there).
        public var outIsTerminal: Bool
        /// True when standard error is a terminal: `convert` then shows a progress line for large inputs.
        public var errIsTerminal: Bool

        public init(out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void,
                    data: (@Sendable (Data) -> Void)? = nil, outIsTerminal: Bool = false, errIsTerminal: Bool = false) {
            self.out = out
            self.err = err
            self.data = data ?? { out(String(decoding: $0, as: UTF8.self)) }
            self.outIsTerminal = outIsTerminal
            self.errIsTerminal = errIsTerminal
        }

        public static var standard: Output {
            Output(out: { FileHandle.standardOutput.write(Data($0.utf8)) },
                   err: { FileHandle.standardError.write(Data($0.utf8)) },
                   data: { FileHandle.standardOutput.write($0) },
                   outIsTerminal: isatty(STDOUT_FILENO) != 0, errIsTerminal: isatty(STDERR_FILENO) != 0)
        }
    }

    /// Exit statuses of the commands.
    public enum Status {
        public static let ok: Int32 = 0
        public static let failure: Int32 = 1
        public static let usage: Int32 = 2
        public static let rejected: Int32 = 3
    }

    // MARK: check-config

    public static func checkConfig(path: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                                   output: Output = .standard) -> Int32 {
        do {
            let config = try ConfigLoader(environment: environment).load(path: path)
            _ = try config.redis.connection()
            if let problem = config.clusterSlotProblem {
                output.err("error: redis: \(problem)\n")
                return Status.usage
            }
            output.out(config.maskedYAML)
            output.err("\(path): OK, \(config.entities.count) entit\(config.entities.count == 1 ? "y" : "ies")\n")
            if let line = credentialsLine(config.storage, environment: environment) { output.err(line + "\n") }
            return Status.ok
        } catch {
            output.err("error: \(error)\n")
            return Status.usage
        }
    }

    /// Where an `s3://` store's credentials will come from, resolved from the configuration, the
    /// environment and the shared files only: nothing fetched, no secret shown.
    static func credentialsLine(_ storage: StorageConfig, environment: [String: String]) -> String? {
        do {
            guard let source = try storage.credentialSource(environment: environment) else { return nil }
            if case .instanceMetadata(_, _?) = source {
                return "credentials: \(source), nothing else configured (checked by `run` at start)"
            }
            return "credentials: \(source)"
        } catch let error as ObjectStoreError {
            return "credentials: none: \(error.message)"
        } catch {
            return "credentials: none: \(error)"
        }
    }

    // MARK: convert

    /// The options of `lakewriter convert`.
    public struct ConvertArguments: Sendable {
        public var config: String
        public var entity: String
        public var input: String
        public var output: String
        public var compression: String?
        public var rejects: String?
        public var threads: Int?

        public init(config: String, entity: String, input: String, output: String, compression: String? = nil,
                    rejects: String? = nil, threads: Int? = nil) {
            self.config = config
            self.entity = entity
            self.input = input
            self.output = output
            self.compression = compression
            self.rejects = rejects
            self.threads = threads
        }
    }

    public static func convert(_ a: ConvertArguments, environment: [String: String] = ProcessInfo.processInfo.environment,
                               output: Output = .standard) async -> Int32 {
        let config: LakewriterConfig
        do {
            config = try ConfigLoader(environment: environment).load(path: a.config)
        } catch {
            output.err("error: \(error)\n")
            return Status.usage
        }
        guard let entity = config.entity(named: a.entity) else {
            output.err("error: no entity named \(a.entity) in \(a.config) (have: \(config.entities.map(\.name).joined(separator: ", ")))\n")
            return Status.usage
        }
        var parquet = config.parquet
        if let c = a.compression {
            guard let codec = ParquetConfig.Compression(name: c) else {
                output.err("error: --compression must be none, snappy, gzip, zstd or lz4_raw, not \(c)\n")
                return Status.usage
            }
            parquet.compression = codec
        }
        var converter = Converter(entity: entity, parquet: parquet)
        if let t = a.threads { converter.threads = max(1, t) }
        if output.errIsTerminal {
            // A progress line on a terminal for inputs over 64 MiB, redrawn at most twice a second.
            converter.progress = ConvertProgress(minimumBytes: 64 << 20) { line in output.err("\r" + line) }
        }

        // s3:// outputs are written to a local file first, then uploaded whole.
        let target: OutputTarget
        switch OutputTarget(a.output) {
        case .some(let t): target = t
        case .none:
            output.err("error: --output must be a path, file://PATH, s3://BUCKET/KEY or - (standard output)\n")
            return Status.usage
        }
        let localPath: String
        switch target {
        case .file(let p):
            localPath = p
        case .s3, .standardOutput:
            localPath = NSTemporaryDirectory() + "lakewriter-convert-\(UUID().uuidString).parquet"
        }
        if case .standardOutput = target, output.outIsTerminal {
            output.err("error: --output - writes Parquet to standard output, which is a terminal: redirect or pipe it\n")
            return Status.usage
        }
        defer { if !target.isFile { try? FileManager.default.removeItem(atPath: localPath) } }
        // The folders of the output and rejects files are created as needed.
        for path in [target.isFile ? localPath : nil, a.rejects].compactMap({ $0 }) {
            let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
            do {
                try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
            } catch {
                output.err("error: cannot create the folder \(parent) for \(path): \(Self.reason(error))\n")
                return Status.failure
            }
        }

        let result: ConvertResult
        let job = converter
        do {
            result = try await BlockingWork.run { () throws(ConvertError) -> ConvertResult in
                try job.run(inputPath: a.input, outputPath: localPath, rejectsPath: a.rejects)
            }
        } catch {
            output.err("error: \(error)\n")
            return error.exitCode
        }
        if case .s3(let bucket, let key) = target {
            do {
                try await Storage.upload(file: localPath, bucket: bucket, key: key, storage: config.storage)
            } catch {
                output.err("error: uploading to \(a.output): \(error)\n")
                return Status.failure
            }
        }
        if case .standardOutput = target {
            // The file is complete (footer written) before its first byte goes out.
            guard let handle = FileHandle(forReadingAtPath: localPath) else {
                output.err("error: cannot read back \(localPath)\n")
                return Status.failure
            }
            defer { try? handle.close() }
            do {
                while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { output.data(chunk) }
            } catch {
                output.err("error: writing to standard output: \(Self.reason(error))\n")
                return Status.failure
            }
        }
        let rate = result.seconds > 0 ? Int(Double(result.rows) / result.seconds) : 0
        output.err("\(a.output == "-" ? "standard output" : a.output): \(result.rows) rows, \(result.fileBytes) bytes, \(String(format: "%.2f", result.seconds)) s (\(rate) rows/s)"
            + (result.rejected > 0 ? ", \(result.rejected) rejected" : "") + "\n")
        if result.rejected > 0 {
            if a.rejects == nil {
                for r in result.sampleRejects.prefix(10) { output.err("line \(r.line): \(r.error)\n") }
                if result.rejected > 10 { output.err("… \(result.rejected - 10) more (use --rejects FILE)\n") }
            }
            return Status.rejected
        }
        return Status.ok
    }

    /// The reason of a Foundation error without its domain and code dump.
    static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        return ns.localizedDescription
    }

    /// Where `convert` writes.
    enum OutputTarget {
        case file(String)
        case s3(bucket: String, key: String)
        /// `-`: the finished file goes to standard output.
        case standardOutput

        var isFile: Bool {
            if case .file = self { return true }
            return false
        }

        init?(_ s: String) {
            if s == "-" {
                self = .standardOutput
            } else if s.hasPrefix("s3://") {
                guard case .s3(let bucket, let key) = StorageLocation(s), !key.isEmpty else { return nil }
                self = .s3(bucket: bucket, key: key)
            } else if s.hasPrefix("file://") {
                let p = String(s.dropFirst(7))
                guard !p.isEmpty else { return nil }
                self = .file(p)
            } else {
                guard !s.isEmpty else { return nil }
                self = .file(s)
            }
        }
    }
}
