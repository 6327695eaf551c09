import CCurl

/// Facts about the linked libcurl.
package enum CurlLibrary {
    /// The version of the libcurl this process loaded, e.g. "7.88.1".
    package static var version: String {
        guard let info = curl_version_info(CURLVERSION_ELEVENTH), let text = info.pointee.version else { return "unknown" }
        return String(cString: text)
    }
}
