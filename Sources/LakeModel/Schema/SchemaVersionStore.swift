import Foundation

/// Where schema versions are recorded: `_schemas/ENTITY/v000001.json` under the storage root.
/// The worker supplies an object-store implementation; ``LocalSchemaVersionStore`` writes files.
public protocol SchemaVersionStore: Sendable {
    func record(_ schema: EntitySchema) async throws
}

extension EntitySchema {
    /// Key of this version under the storage root.
    public var recordKey: String {
        "_schemas/\(entity)/v\(String(version).leftPad(6)).json"
    }
}

/// Records schema versions as files under a local directory (the `file://` storage).
public struct LocalSchemaVersionStore: SchemaVersionStore {
    public var root: String

    public init(root: String) { self.root = root }

    public func record(_ schema: EntitySchema) async throws {
        let url = URL(fileURLWithPath: root).appendingPathComponent(schema.recordKey)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(schema.jsonDescription.utf8).write(to: url, options: .atomic)
    }
}

/// Keeps recorded versions in memory (tests, dry runs).
public actor MemorySchemaVersionStore: SchemaVersionStore {
    public private(set) var records: [String: String] = [:]

    public init() {}

    public func record(_ schema: EntitySchema) async throws {
        records[schema.recordKey] = schema.jsonDescription
    }
}
