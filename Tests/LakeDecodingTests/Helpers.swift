import LakeModel
import LakeDecoding

/// Runs `body` with the bytes of `text`, returning its decode error if any.
func withBytes(_ text: [UInt8], _ body: (UnsafeRawBufferPointer) throws(DecodeError) -> Void) -> DecodeError? {
    text.withUnsafeBytes { p -> DecodeError? in
        do throws(DecodeError) {
            try body(p)
            return nil
        } catch { return error }
    }
}
