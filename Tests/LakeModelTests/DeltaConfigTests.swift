@testable import LakeModel
import Testing

/// `storage.table_format`, `entities.NAME.table_format` and what a Delta entity may declare.
@Suite struct DeltaConfigTests {
    static func load(storage: String = "", entity: String = "", columns: String = "      n: int64") throws -> LakewriterConfig {
        try ConfigLoader(environment: [:]).load(yaml: """
        redis: {url: "redis://127.0.0.1:1/0"}
        storage: {url: "file://./lake"\(storage)}
        entities:
          a:
            stream: a
        \(entity)
            columns:
        \(columns)
          b:
            stream: b
            columns:
              n: int64
        """)
    }

    @Test func entitiesTakeTheStorageFormatUnlessTheyOverrideIt() throws {
        let parquet = try Self.load()
        #expect(parquet.entities.allSatisfy { $0.tableFormat == .parquet })
        #expect(parquet.storage.deltaCheckpointInterval == 10)
        let delta = try Self.load(storage: ", table_format: delta, delta_checkpoint_interval: 5",
                                  entity: "    table_format: parquet")
        #expect(delta.entities.map(\.tableFormat) == [.parquet, .delta])
        #expect(delta.storage.deltaCheckpointInterval == 5)
        #expect(delta.maskedYAML.contains("  table_format: delta\n  delta_checkpoint_interval: 5\n"))
        #expect(delta.maskedYAML.contains("    table_format: parquet\n"))
        // A Delta entity's schema stores the types Delta lacks as the mapped ones.
        #expect(EntitySchema(entity: delta.entities[1]).deltaTypes)
        #expect(!EntitySchema(entity: delta.entities[0]).deltaTypes)
    }

    @Test func deltaEntitiesRefuseWhatDeltaCannotHold() {
        let cases: [(String, String, String)] = [
            (", table_format: delta", "", "      at: timestamp(ns, utc)"),
            (", table_format: delta", "", "      xs: list<timestamp(ns)>"),
            ("", "    table_format: delta\n    partition_by: [k]\n    time_partition: day", "      k: string"),
            (", table_format: lake", "", "      n: int64"),
            (", delta_checkpoint_interval: 0", "", "      n: int64"),
        ]
        let messages = ["timestamp(ns) cannot be a Delta column", "timestamp(ns) cannot be a Delta column",
                        "a Delta table with partition_by has no time segments", "expected parquet or delta",
                        "storage.delta_checkpoint_interval"]
        for ((storage, entity, columns), message) in zip(cases, messages) {
            do {
                _ = try Self.load(storage: storage, entity: entity, columns: columns)
                Issue.record("accepted \(storage) \(entity) \(columns)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
        // Without an explicit time_partition, a Delta entity with partition_by has none.
        let ok = try? Self.load(entity: "    table_format: delta\n    partition_by: [k]", columns: "      k: string")
        #expect(ok?.entities[0].timePartition == TimeGranularity.none)
        #expect(ok?.entities[1].timePartition == .hour)
    }
}
