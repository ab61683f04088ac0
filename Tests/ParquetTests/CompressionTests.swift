import Foundation
import Testing
import TestSupport
@testable import Parquet

/// Codecs checked against independent implementations: Python's gzip module and
/// pyarrow's snappy/zstd/lz4_raw codecs decompress what we compress, and we decompress
/// what they compress.
@Suite struct CompressionTests {
    static let codecs: [Compression] = [.uncompressed, .snappy, .gzip(), .gzip(level: 9), .zstd(), .zstd(level: 19), .lz4Raw]

    static func inputs() -> [(String, [UInt8])] {
        var rng = SeededGenerator(seed: 42)
        let random = (0..<100_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let text = Array(String(repeating: "lakewriter streams rows into parquet; ", count: 30_000).utf8)
        var ints: [UInt8] = []
        for i in 0..<50_000 { withUnsafeBytes(of: Int64(i * 3).littleEndian) { ints.append(contentsOf: $0) } }
        return [("empty", []), ("one", [7]), ("random", random), ("text", text), ("ints", ints)]
    }

    @Test func roundTripInProcess() throws {
        for c in Self.codecs {
            let compressor = try Compressor(c)
            var out: [UInt8] = [9, 9]  // appends after existing bytes
            for (name, input) in Self.inputs() {
                out.removeAll(keepingCapacity: true)
                out.append(contentsOf: [9, 9])
                let n = try input.withUnsafeBytes { try compressor.compress($0, appendingTo: &out) }
                #expect(out.count == n + 2, "\(c) \(name)")
                #expect(n <= compressor.maxCompressedLength(input.count))
                let back = try compressor.decompress(Array(out[2...]), uncompressedSize: input.count)
                #expect(back == input, "\(c) \(name)")
            }
        }
    }

    @Test func compressesCompressibleData() throws {
        let text = Self.inputs().first { $0.0 == "text" }!.1
        for c in Self.codecs where c != .uncompressed {
            let n = try Compressor(c).compress(text).count
            #expect(n * 20 < text.count, "\(c) compressed \(text.count) to \(n)")
        }
    }

    @Test func gzipIsRFC1952() throws {
        let out = try Compressor(.gzip()).compress(Array("hello".utf8))
        #expect(Array(out.prefix(3)) == [0x1F, 0x8B, 0x08])  // gzip magic, deflate
        // The trailer holds CRC32 and ISIZE (5) little-endian.
        #expect(Array(out.suffix(4)) == [5, 0, 0, 0])
    }

    @Test func corruptInputThrows() throws {
        let garbage: [UInt8] = Array(repeating: 0xFF, count: 64)
        for codec in [CompressionCodec.snappy, .gzip, .zstd, .lz4Raw] {
            #expect(throws: CompressionError.self) {
                try garbage.withUnsafeBytes { try Compressor.decompress($0, codec: codec, uncompressedSize: 1000) }
            }
        }
    }

    @Test(.enabled(if: TestEnvironment.python != nil || TestEnvironment.isCI, "needs the venv python (scripts/test)"))
    func interopWithPython() throws {
        let python = try #require(TestEnvironment.python)
        let dir = try TestEnvironment.temporaryDirectory("codecs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let names = ["snappy": "snappy", "gzip": "gzip", "zstd": "zstd", "lz4Raw": "lz4_raw"]
        for (name, input) in Self.inputs() {
            try Data(input).write(to: dir.appendingPathComponent("\(name).raw"))
            for c in Self.codecs where c != .uncompressed {
                let key = Self.key(c)
                try Data(try Compressor(c).compress(input)).write(to: dir.appendingPathComponent("\(name).\(key).swift"))
            }
        }
        let script = """
        import gzip, os, sys, pyarrow as pa
        d = sys.argv[1]
        names = \(Self.pythonDict(names))
        bad = []
        checked = 0
        for f in sorted(os.listdir(d)):
            if not f.endswith(".swift"):
                continue
            base, key, _ = f.rsplit(".", 2)
            raw = open(os.path.join(d, base + ".raw"), "rb").read()
            data = open(os.path.join(d, f), "rb").read()
            codec = names[key.rstrip("0123456789")]
            if codec == "gzip":
                got = gzip.decompress(data)
            else:
                got = pa.Codec(codec).decompress(data, decompressed_size=len(raw)).to_pybytes()
            checked += 1
            if got != raw:
                bad.append(f)
        for f in sorted(os.listdir(d)):
            if f.endswith(".raw"):
                raw = open(os.path.join(d, f), "rb").read()
                base = f[:-4]
                open(os.path.join(d, base + ".gzip.py"), "wb").write(gzip.compress(raw))
                for codec in ("snappy", "zstd", "lz4_raw"):
                    out = pa.Codec(codec).compress(raw, asbytes=True)
                    open(os.path.join(d, base + "." + codec + ".py"), "wb").write(out)
        print(checked, " ".join(bad))
        """
        let result = try ProcessRunner.run(python, ["-c", script, dir.path])
        let fields = result.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", maxSplits: 1)
        #expect(fields.first == "\(Self.inputs().count * (Self.codecs.count - 1))", "python checked: \(result.stdoutString)")
        #expect(fields.count == 1, "python could not decompress: \(fields.dropFirst())")

        let codecOf: [String: CompressionCodec] = ["gzip": .gzip, "snappy": .snappy, "zstd": .zstd, "lz4_raw": .lz4Raw]
        for (name, input) in Self.inputs() {
            for (key, codec) in codecOf {
                let data = try [UInt8](Data(contentsOf: dir.appendingPathComponent("\(name).\(key).py")))
                let back = try data.withUnsafeBytes { try Compressor.decompress($0, codec: codec, uncompressedSize: input.count) }
                #expect(back == input, "\(key) \(name)")
            }
        }
    }

    static func key(_ c: Compression) -> String {
        switch c {
        case .uncompressed: "none"
        case .snappy: "snappy"
        case .gzip(let l): "gzip\(l)"
        case .zstd(let l): "zstd\(l)"
        case .lz4Raw: "lz4Raw"
        }
    }

    static func pythonDict(_ d: [String: String]) -> String {
        "{" + d.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ") + "}"
    }
}

