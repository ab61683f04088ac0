import Foundation
import Lakehouse
import TestSupport

enum TestSupportPaths {
    static func tempDir(_ label: String) throws -> String {
        try TestEnvironment.temporaryDirectory(label).path
    }
}

/// Runs `body` with the bytes of `text`, returning its decode error if any.
func withBytes(_ text: [UInt8], _ body: (UnsafeRawBufferPointer) throws(DecodeError) -> Void) -> DecodeError? {
    text.withUnsafeBytes { p -> DecodeError? in
        do throws(DecodeError) {
            try body(p)
            return nil
        } catch { return error }
    }
}

/// The `columns:` of an entity with every type of the grammar, indented for an entity under
/// `entities:` (shared by the decoder and convert tests).
let allTypesColumns = """
    columns:
      b: bool
      i8: int8
      i16: int16
      i32: int32
      i64: int64 not null
      u8: uint8
      u16: uint16
      u32: uint32
      u64: uint64
      f32: float32
      f64: float64
      d: decimal(5,2)
      dbig: decimal(30,4)
      s: string
      bin: binary
      id: uuid
      day: date
      tod: time(us)
      ts: timestamp(us, utc)
      tsl: timestamp(ms)
      j: json
      tags: list<int32>
      items: list<struct<sku:string not null, qty:int32>>
      attrs: map<string, int64>
      lat: {type: float64, source: geo.lat}
"""
