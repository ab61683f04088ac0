import DeltaLake
import Foundation
import LakeModel
import LakeOutput
import Logging
import ObjectStore

/// `lakewriter compact` and `lakewriter vacuum`: maintenance of the entities' Delta tables.
extension Commands {
    public struct CompactRequest: Sendable {
        public var config: String
        public var entity: String?
        public var partition: String?
        public var targetSize: Int64 = 128 << 20
        public var minFiles = 5
        public var olderThan: Duration = .seconds(3600)
        public init(config: String) { self.config = config }
    }

    /// The Delta entities of `path` (or the named one), and the store; a usage status on error.
    static func deltaSetup(_ path: String, entity: String?, environment: [String: String], output: Output)
        -> Result<(LakewriterConfig, [EntityConfig], any ObjectStore), CommandFailure> {
        let config: LakewriterConfig
        do { config = try ConfigLoader(environment: environment).load(path: path) } catch {
            output.err("error: \(error)\n")
            return .failure(CommandFailure(status: Status.usage))
        }
        var entities = config.entities.filter { $0.tableFormat == .delta }
        if let name = entity {
            guard let e = config.entity(named: name) else {
                output.err("error: --entity \(name): no such entity (entities: \(config.entities.map(\.name).joined(separator: ", ")))\n")
                return .failure(CommandFailure(status: Status.usage))
            }
            guard e.tableFormat == .delta else {
                output.err("error: entity \(name) is not a Delta table (table_format: \(e.tableFormat.rawValue))\n")
                return .failure(CommandFailure(status: Status.usage))
            }
            entities = [e]
        }
        guard !entities.isEmpty else {
            output.err("error: \(path): no entity has table_format: delta\n")
            return .failure(CommandFailure(status: Status.usage))
        }
        do {
            return .success((config, entities, try config.storage.openStore(logger: Logger(label: "lakewriter"))))
        } catch {
            output.err("error: storage \(config.storage.url): \(error)\n")
            return .failure(CommandFailure(status: Status.failure))
        }
    }

    public struct CommandFailure: Error { public var status: Int32 }

    public static func compact(_ r: CompactRequest, environment: [String: String] = ProcessInfo.processInfo.environment,
                               output: Output = .standard) async -> Int32 {
        guard r.targetSize >= 1 << 20 else {
            output.err("error: --target-size must be at least 1MiB\n")
            return Status.usage
        }
        guard r.minFiles >= 2 else {
            output.err("error: --min-files must be at least 2\n")
            return Status.usage
        }
        let (_, entities, store): (LakewriterConfig, [EntityConfig], any ObjectStore)
        switch deltaSetup(r.config, entity: r.entity, environment: environment, output: output) {
        case .success(let s): (_, entities, store) = s
        case .failure(let f): return f.status
        }
        defer { Task { try? await store.shutdown() } }
        var options = DeltaMaintenance.CompactOptions()
        options.targetSize = r.targetSize
        options.minFiles = r.minFiles
        options.olderThan = r.olderThan
        options.partition = r.partition
        var status = Status.ok
        for e in entities {
            do {
                let rep = try await DeltaMaintenance.compact(store: store, root: e.name + "/", options: options,
                                                             logger: Logger(label: "lakewriter"), line: { output.out("\(e.name)/\($0)\n") })
                output.out("\(e.name): \(rep.filesBefore) files (median \(rep.medianBefore) bytes) → \(rep.filesAfter) files "
                    + "(median \(rep.medianAfter) bytes); \(rep.filesRemoved) joined into \(rep.filesAdded) in \(rep.commits.count) commits"
                    + (rep.conflicts > 0 ? ", \(rep.conflicts) left to another compaction" : "") + "\n")
            } catch {
                output.err("error: \(e.name): \(error)\n")
                status = Status.failure
            }
        }
        return status
    }

    public static func vacuum(config path: String, entity: String?, retention: Duration, dryRun: Bool, force: Bool,
                              environment: [String: String] = ProcessInfo.processInfo.environment,
                              output: Output = .standard) async -> Int32 {
        guard retention >= .seconds(3600) || force else {
            output.err("error: --retention below 1h could delete files a reader or a running writer still needs; add --force to do it anyway\n")
            return Status.usage
        }
        let (_, entities, store): (LakewriterConfig, [EntityConfig], any ObjectStore)
        switch deltaSetup(path, entity: entity, environment: environment, output: output) {
        case .success(let s): (_, entities, store) = s
        case .failure(let f): return f.status
        }
        defer { Task { try? await store.shutdown() } }
        var status = Status.ok
        for e in entities {
            do {
                let rep = try await DeltaMaintenance.vacuum(store: store, root: e.name + "/", retention: retention, dryRun: dryRun,
                                                            logger: Logger(label: "lakewriter"))
                for f in rep.deleted { output.out("\(dryRun ? "would delete" : "deleted") \(e.name)/\(f)\n") }
                output.out("\(e.name): \(rep.deleted.count) files \(dryRun ? "to delete" : "deleted"), \(rep.kept) kept\n")
            } catch {
                output.err("error: \(e.name): \(error)\n")
                status = Status.failure
            }
        }
        return status
    }
}
