//! DAV XML (RFC 4918, 4791, 6578): request bodies in, multistatus out, with quick-xml.
