import LakeModel
import LakeOutput
import Foundation
import ObjectStore
import Parquet

extension Commands {
    /// The most files one `inspect` reads (a folder or prefix holding more is refused: name a narrower one).
    public static let maximumInspectFiles = 10_000

    /// One file: the detailed report of ``InspectReport``. Several files, a folder or an
    /// `s3://BUCKET/PREFIX/` (ending in `/`): the table of ``InspectSummary`` (rows, sizes, schema
    /// differences). Exit 0 when every file was read, 1 when one was not (the others are still
    /// listed), 2 for usage and configuration errors.
    public static func inspect(paths: [String], json: Bool, config: String? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               output: Output = .standard) async -> Int32 {
        guard !paths.isEmpty else {
            output.err("error: name at least one Parquet file, folder or s3:// prefix\n")
            return Status.usage
        }
        var storage = StorageConfig()
        if let config {
            do {
                storage = try ConfigLoader(environment: environment).load(path: config).storage
            } catch {
                output.err("error: \(error)\n")
                return Status.usage
            }
        }
        // Expand folders and prefixes into files.
        var targets: [InspectTarget] = []
        var summary = InspectSummary()
        var expanded = false
        for path in paths {
            do {
                let found = try await InspectTarget.expand(path, storage: storage, limit: maximumInspectFiles - targets.count)
                if found.isMany { expanded = true }
                targets += found.targets
            } catch let e as InspectTarget.Problem {
                switch e {
                case .usage(let m):
                    output.err("error: \(m)\n")
                    return Status.usage
                case .unreadable(let m): summary.fail(path, m)
                }
            } catch {
                summary.fail(path, "\(error)")
            }
        }
        if paths.count == 1 && !expanded {
            // One file: its detailed report, or why it cannot be read.
            if let f = summary.failures.first {
                output.err("error: \(Self.located(f.path, f.message))\n")
                return Status.failure
            }
            return await inspectOne(targets[0], json: json, storage: storage, output: output)
        }
        for t in targets {
            do {
                summary.add(try await t.report(storage: storage))
            } catch {
                summary.fail(t.display, Self.message(error))
            }
        }
        output.out(json ? summary.json + "\n" : summary.text)
        for f in summary.failures { output.err("error: \(Self.located(f.path, f.message))\n") }
        return summary.failures.isEmpty ? Status.ok : Status.failure
    }

    /// The one-file form, kept for callers that name a single path.
    public static func inspect(path: String, json: Bool, config: String? = nil,
                               environment: [String: String] = ProcessInfo.processInfo.environment,
                               output: Output = .standard) async -> Int32 {
        await inspect(paths: [path], json: json, config: config, environment: environment, output: output)
    }

    static func inspectOne(_ t: InspectTarget, json: Bool, storage: StorageConfig, output: Output) async -> Int32 {
        do {
            let report = try await t.report(storage: storage)
            output.out(json ? report.json + "\n" : report.text)
            return Status.ok
        } catch {
            output.err("error: \(Self.located(t.display, Self.message(error)))\n")
            return Status.failure
        }
    }

    /// A reader error as a user reads it (the ObjectStore and Parquet errors say what happened).
    static func message(_ error: any Error) -> String { "\(error)" }

    /// `PATH: message`, unless the message already names the path (`no such file: PATH`).
    static func located(_ path: String, _ message: String) -> String {
        message.contains(path) ? message : "\(path): \(message)"
    }
}

/// One Parquet file `inspect` reads: local, or an S3 object (downloaded to a temporary file).
struct InspectTarget: Sendable {
    enum Location: Sendable {
        case local(String)
        case s3(bucket: String, key: String)
    }

    enum Problem: Error {
        /// A malformed argument (exit 2).
        case usage(String)
        /// The path cannot be read (listed with the other failures, exit 1).
        case unreadable(String)
    }

    var location: Location
    /// As the user named it (or the folder's path joined with the file's).
    var display: String

    /// The files `path` names: itself, the `*.parquet` files under a folder (recursively, hidden
    /// files skipped, sorted), or the `.parquet` keys under an `s3://BUCKET/PREFIX/`.
    static func expand(_ path: String, storage: StorageConfig, limit: Int) async throws -> (targets: [InspectTarget], isMany: Bool) {
        if path.hasPrefix("s3://") {
            guard case .s3(let bucket, let key) = StorageLocation(path), !bucket.isEmpty else {
                throw Problem.usage("expected s3://BUCKET/KEY or s3://BUCKET/PREFIX/, not \(path)")
            }
            if !key.isEmpty && !path.hasSuffix("/") { return ([InspectTarget(location: .s3(bucket: bucket, key: key), display: path)], false) }
            let prefix = key.isEmpty ? "" : (key.hasSuffix("/") ? key : key + "/")
            let keys = try await Storage.listParquet(bucket: bucket, prefix: prefix, storage: storage, limit: limit)
            return (keys.map { InspectTarget(location: .s3(bucket: bucket, key: $0), display: "s3://\(bucket)/\($0)") }, true)
        }
        let local = path.hasPrefix("file://") ? String(path.dropFirst(7)) : path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: local, isDirectory: &isDirectory) else {
            throw Problem.unreadable("no such file: \(path)")
        }
        guard isDirectory.boolValue else { return ([InspectTarget(location: .local(local), display: path)], false) }
        guard let walker = FileManager.default.enumerator(atPath: local) else {
            throw Problem.unreadable("cannot list the folder \(path)")
        }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(".") {
                if walker.fileAttributes?[.type] as? FileAttributeType == .typeDirectory { walker.skipDescendants() }
                continue
            }
            guard name.hasSuffix(".parquet") else { continue }
            found.append(relative)
            if found.count > limit {
                throw Problem.usage("more than \(Commands.maximumInspectFiles) Parquet files under \(path): name a narrower folder")
            }
        }
        let base = local.hasSuffix("/") ? local : local + "/"
        let shown = path.hasSuffix("/") ? path : path + "/"
        return (found.sorted().map { InspectTarget(location: .local(base + $0), display: shown + $0) }, true)
    }

    /// Reads the footer (downloading an S3 object first).
    func report(storage: StorageConfig) async throws -> InspectReport {
        switch location {
        case .local(let p):
            return try Inspector.inspect(path: p, displayPath: display)
        case .s3(let bucket, let key):
            let local = NSTemporaryDirectory() + "lakewriter-inspect-\(UUID().uuidString).parquet"
            defer { try? FileManager.default.removeItem(atPath: local) }
            do {
                try await Storage.download(bucket: bucket, key: key, to: local, storage: storage)
            } catch {
                throw Problem.unreadable("reading \(display): \(error)")
            }
            return try Inspector.inspect(path: local, displayPath: display)
        }
    }
}

extension InspectTarget.Problem: CustomStringConvertible {
    var description: String {
        switch self {
        case .usage(let m), .unreadable(let m): m
        }
    }
}

extension Storage {
    /// The keys ending in `.parquet` under `prefix`, sorted; more than `limit` is refused.
    static func listParquet(bucket: String, prefix: String, storage: StorageConfig, limit: Int) async throws -> [String] {
        let store = try open(bucket: bucket, storage: storage)
        var keys: [String] = []
        do {
            var token: String?
            repeat {
                let page = try await store.list(prefix: prefix, continuationToken: token, maxKeys: 1000)
                for o in page.objects where o.key.hasSuffix(".parquet") {
                    keys.append(o.key)
                    if keys.count > limit {
                        throw InspectTarget.Problem.usage(
                            "more than \(Commands.maximumInspectFiles) Parquet files under s3://\(bucket)/\(prefix): name a narrower prefix")
                    }
                }
                token = page.nextContinuationToken
            } while token != nil
        } catch {
            try? await store.shutdown()
            throw error
        }
        try await store.shutdown()
        return keys.sorted()
    }
}
