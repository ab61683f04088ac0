// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "lakewriter",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "lakewriter", targets: ["lakewriter"]),
        .executable(name: "lakewriter-backfill", targets: ["lakewriter-backfill"]),
        .library(name: "Parquet", targets: ["Parquet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.27.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.0"),
    ],
    targets: [
        // System libraries (Debian packages named in `providers`).
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CSnappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),

        // Native Parquet writer: depends on nothing but the codecs.
        .target(name: "Parquet", dependencies: ["CSnappy", "CZstd", "CZlib", "CLZ4"]),

        // The one retry-delay formula (Redis, S3, the worker).
        .target(name: "Retrying"),

        .target(
            name: "ObjectStore",
            dependencies: [
                "Retrying",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "RedisStreams",
            dependencies: [
                "CHiredis", "Retrying",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "PostgresSource",
            dependencies: [
                "CLibPQ", "Parquet",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The model: configuration, entity schemas, shared text and log formats.
        .target(
            name: "LakeModel",
            dependencies: [
                "Parquet",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Decoding: JSON scanner, entity decoders, schema evolution (one module: they rely on
        // cross-function inlining).
        .target(name: "LakeDecoding", dependencies: ["LakeModel", "Parquet"]),
        // Output: row-group-by-row-group upload, partitions and object keys, UUIDv7 names,
        // schema records, the store opener and writer properties.
        .target(
            name: "LakeOutput",
            dependencies: [
                "LakeModel", "Parquet", "ObjectStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Delta Lake tables: schema mapping, add statistics, the log reader, checkpoints, the committer.
        .target(
            name: "DeltaLake",
            dependencies: [
                "LakeModel", "LakeDecoding", "LakeOutput", "Parquet", "ObjectStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The stream worker.
        .target(
            name: "LakeWorker",
            dependencies: [
                "LakeModel", "LakeDecoding", "LakeOutput", "DeltaLake", "Parquet", "ObjectStore", "RedisStreams", "Retrying",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Offline tools: convert, inspect, check-config.
        .target(
            name: "LakeTools",
            dependencies: [
                "LakeModel", "LakeDecoding", "LakeOutput", "LakeWorker", "DeltaLake", "Parquet", "ObjectStore", "RedisStreams",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "lakewriter",
            dependencies: [
                "LakeWorker", "LakeTools", "LakeModel", "Parquet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The backfill run: plan, jobs in one snapshot, entity mapping, output files, manifest, resume.
        .target(
            name: "Backfill",
            dependencies: [
                "PostgresSource", "LakeModel", "LakeDecoding", "LakeOutput", "DeltaLake", "Parquet", "ObjectStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "lakewriter-backfill",
            dependencies: [
                "Backfill", "LakeModel", "Parquet",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "backfill/Sources"
        ),

        // Benchmarks: executables compared side by side with their peers by scripts/bench.
        .executableTarget(name: "bench-parquet", dependencies: ["Parquet", "TestSupport"], path: "Benchmarks/parquet",
                          exclude: ["peer.py"]),
        .executableTarget(name: "bench-codecs", dependencies: ["Parquet", "TestSupport"], path: "Benchmarks/codecs",
                          exclude: ["peer.py"]),
        .executableTarget(name: "bench-objectstore", dependencies: ["ObjectStore"], path: "Benchmarks/objectstore",
                          exclude: ["peer.py"]),
        .executableTarget(name: "bench-redis", dependencies: ["RedisStreams", "CHiredis"], path: "Benchmarks/redis",
                          exclude: ["peer.c"]),

        // Shared test helpers: reading files back with pyarrow / DuckDB / polars,
        // server endpoints from the environment.
        .target(name: "TestSupport", path: "Tests/TestSupport", exclude: ["readback.py"]),
        .testTarget(name: "ParquetTests", dependencies: ["Parquet", "TestSupport"]),
        .testTarget(name: "ObjectStoreTests", dependencies: ["ObjectStore", "TestSupport"],
                    exclude: ["Vectors", "README.md"]),
        .testTarget(name: "RedisStreamsTests", dependencies: ["RedisStreams", "CHiredis", "TestSupport"]),
        .testTarget(name: "PostgresSourceTests", dependencies: ["PostgresSource", "TestSupport"]),
        .testTarget(name: "BackfillTests", dependencies: ["Backfill", "PostgresSource", "LakeModel", "LakeOutput", "Parquet",
                                                          "ObjectStore", "TestSupport",
                                                          .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "LakeModelTests", dependencies: ["LakeModel", "Parquet", "TestSupport",
                                                           .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "LakeDecodingTests", dependencies: ["LakeDecoding", "LakeModel", "Parquet", "TestSupport"]),
        .testTarget(name: "LakeOutputTests", dependencies: ["LakeOutput", "LakeModel", "Parquet", "ObjectStore", "TestSupport"]),
        .testTarget(name: "DeltaLakeTests", dependencies: ["DeltaLake", "LakeModel", "LakeOutput", "Parquet", "ObjectStore",
                                                           "TestSupport", .product(name: "Logging", package: "swift-log"),
                                                           .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(name: "LakeWorkerTests", dependencies: ["LakeWorker", "LakeModel", "LakeOutput", "Parquet",
                                                            "RedisStreams", "TestSupport"]),
        .testTarget(name: "LakeToolsTests", dependencies: ["LakeTools", "LakeWorker", "LakeModel", "LakeDecoding", "LakeOutput",
                                                           "Parquet", "ObjectStore", "RedisStreams", "TestSupport",
                                                           .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "IntegrationTests", dependencies: ["LakeWorker", "LakeTools", "LakeModel", "LakeOutput", "DeltaLake", "Parquet",
                                                             "ObjectStore", "RedisStreams", "PostgresSource", "TestSupport"]),
    ]
)
