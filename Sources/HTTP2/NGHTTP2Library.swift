import CNGHTTP2

/// Facts about the linked nghttp2 library.
public enum NGHTTP2Library {
    /// The version of the nghttp2 library this process loaded, e.g. "1.52.0".
    public static var version: String {
        guard let info = nghttp2_version(0), let text = info.pointee.version_str else { return "unknown" }
        return String(cString: text)
    }
}
