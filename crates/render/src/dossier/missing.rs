//! What a dossier could not read, said once per reason on standard error
//! rather than at every field.

use procscope_model::dossier::Dossier;

/// One warning per kind of missing field (denied, timed out) naming the
/// fields, so that the way to get them is said once, not per field. The
/// comparisons with the reference process are left out: they are not
/// about this one.
pub fn missing_summary(found: &[Dossier]) -> Vec<String> {
    let mut out = Vec::new();
    for d in found {
        // The fields are named as the JSON names them.
        let wire = crate::wire::show::Dossier::from(d);
        let Ok(v) = serde_json::to_value(&wire) else {
            continue;
        };
        let mut by_msg = std::collections::BTreeMap::<String, Vec<String>>::new();
        let mut stack = vec![(String::new(), &v)];
        while let Some((path, x)) = stack.pop() {
            match x {
                serde_json::Value::Object(m) => {
                    if let Some(serde_json::Value::Object(e)) = m.get("error") {
                        let r = e.get("reason").and_then(|r| r.as_str()).unwrap_or_default();
                        if r == "denied" || r == "timed_out" {
                            let msg = e
                                .get("message")
                                .and_then(|m| m.as_str())
                                .unwrap_or_default();
                            by_msg
                                .entry(msg.to_string())
                                .or_default()
                                .push(path.clone());
                        }
                        continue;
                    }
                    for (k, v) in m {
                        // `tty` is `tty_nr` decoded: the same field once.
                        if k.starts_with("reference") || k == "only_in_reference" || k == "tty" {
                            continue;
                        }
                        let p = if path.is_empty() {
                            k.clone()
                        } else {
                            format!("{path}.{k}")
                        };
                        stack.push((p, v));
                    }
                }
                serde_json::Value::Array(a) => {
                    stack.extend(a.iter().map(|v| (path.clone(), v)));
                }
                _ => {}
            }
        }
        for (msg, mut fields) in by_msg {
            fields.sort();
            fields.dedup();
            let more = fields.len().saturating_sub(6);
            fields.truncate(6);
            let tail = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            out.push(format!(
                "PID {}: {} {msg}",
                d.pid,
                fields.join(", ") + &tail + ":"
            ));
        }
    }
    out
}
