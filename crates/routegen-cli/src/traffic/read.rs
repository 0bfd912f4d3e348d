//! Reading access logs: files (gzip or plain, told by their first bytes) or `-` for stdin,
//! line by line, with bad lines counted and the first few kept with their line numbers.

use super::line::{self, Format, Observation, MAX_LINE_BYTES};
use crate::common::{Exit, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Bad lines quoted in the summary; the rest are only counted.
const QUOTED_BAD_LINES: usize = 3;

/// What reading the logs found, beside the requests themselves.
#[derive(Debug, Default)]
pub struct LogSummary {
    pub requests: u64,
    pub bad: u64,
    /// `file:line: reason: text` of the first few bad lines.
    pub examples: Vec<String>,
    /// Requests per format, in [`Format::ALL`] order.
    pub formats: [u64; 4],
}

impl LogSummary {
    /// `10000 requests (Envoy default); 2 bad lines: …`, for stderr.
    pub fn describe(&self) -> String {
        let formats: Vec<String> = Format::ALL
            .iter()
            .zip(self.formats)
            .filter(|(_, n)| *n > 0)
            .map(|(f, n)| {
                if self.formats.iter().filter(|&&m| m > 0).count() > 1 {
                    format!("{n} {}", f.describe())
                } else {
                    f.describe().to_string()
                }
            })
            .collect();
        let mut text = format!("{} requests read", self.requests);
        if !formats.is_empty() {
            text.push_str(&format!(" ({})", formats.join(", ")));
        }
        if self.bad > 0 {
            text.push_str(&format!("; {} bad lines skipped, e.g.\n  {}", self.bad, self.examples.join("\n  ")));
        }
        text
    }

    fn count(&mut self, format: Format) {
        if let Some(i) = Format::ALL.iter().position(|&f| f == format) {
            self.formats[i] += 1;
        }
        self.requests += 1;
    }
}

/// Reads every log in order, handing each request to `each`.
pub fn read_logs(paths: &[PathBuf], mut each: impl FnMut(Observation)) -> Result<LogSummary> {
    let mut summary = LogSummary::default();
    for path in paths {
        let mut reader = open(path)?;
        read_lines(&mut reader, &path.display().to_string(), &mut summary, &mut each)?;
    }
    Ok(summary)
}

/// Reads one stream to its end (used by `top --follow` on each batch of new bytes too).
pub fn read_lines(
    reader: &mut dyn BufRead,
    name: &str,
    summary: &mut LogSummary,
    each: &mut dyn FnMut(Observation),
) -> Result<()> {
    let mut buffer = Vec::new();
    let mut number = 0u64;
    loop {
        buffer.clear();
        let read = Read::take(&mut *reader, MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut buffer);
        match read {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(Exit::usage(format!("{name}: {e}"))),
        }
        number += 1;
        if buffer.len() > MAX_LINE_BYTES && !buffer.ends_with(b"\n") {
            // Skip the rest of an over-long line.
            let mut rest = Vec::new();
            let _ = reader.read_until(b'\n', &mut rest);
        }
        let text = String::from_utf8_lossy(&buffer);
        match line::parse(&text) {
            Ok(Some((observation, format))) => {
                summary.count(format);
                each(observation);
            }
            Ok(None) => {}
            Err(reason) => {
                summary.bad += 1;
                if summary.examples.len() < QUOTED_BAD_LINES {
                    let quoted: String = text.trim_end().chars().take(80).collect();
                    summary.examples.push(format!("{name}:{number}: {reason}: {quoted}"));
                }
            }
        }
    }
}

/// A log file, decompressed when it starts with gzip's magic bytes; `-` is stdin.
pub fn open(path: &Path) -> Result<Box<dyn BufRead>> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let file = File::open(path).map_err(|e| Exit::usage(format!("cannot read {}: {e}", path.display())))?;
    let mut reader = BufReader::new(file);
    let gzip = reader.fill_buf().map(|b| b.starts_with(&[0x1f, 0x8b])).unwrap_or(false);
    Ok(if gzip { Box::new(BufReader::new(flate2::bufread::MultiGzDecoder::new(reader))) } else { Box::new(reader) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn counts_good_and_bad_lines_and_reads_gzip() {
        let text = "GET /a\n\nnonsense\nPOST /b 201\n# note\n{\"method\":\"GET\"}\n";
        let dir = std::env::temp_dir().join(format!("routegen-read-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plain = dir.join("access.log");
        std::fs::write(&plain, text).unwrap();
        let zipped = dir.join("access.log.gz");
        let mut encoder = flate2::write::GzEncoder::new(File::create(&zipped).unwrap(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap();
        for path in [plain, zipped] {
            let mut seen = Vec::new();
            let summary =
                read_logs(std::slice::from_ref(&path), |o| seen.push(format!("{} {}", o.method, o.path))).unwrap();
            assert_eq!(seen, ["GET /a", "POST /b"], "{}", path.display());
            assert_eq!((summary.requests, summary.bad), (2, 2));
            assert!(summary.examples[0].ends_with(":3: expected 'METHOD PATH': nonsense"), "{:?}", summary.examples);
            assert!(summary.examples[1].contains(":6: no method or path field"), "{:?}", summary.examples);
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_over_long_line_is_one_bad_line() {
        let text = format!("GET /{}\nGET /ok\n", "a".repeat(MAX_LINE_BYTES + 10));
        let mut summary = LogSummary::default();
        let mut seen = Vec::new();
        read_lines(&mut text.as_bytes(), "x", &mut summary, &mut |o| seen.push(o.path)).unwrap();
        assert_eq!((seen, summary.bad), (vec!["/ok".to_string()], 1));
    }
}
