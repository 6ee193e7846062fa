//! The allow-listed routes: a path and method to a [`Route`] and the suffix sent on (the
//! Gemini API's model and method kept in it), and the query without the key.

use axum::http::Method;

use super::super::Route;
use super::super::error::ProxyError;

pub(super) fn match_route(method: &Method, suffix: &str) -> Result<Route, ProxyError> {
    let route = match suffix {
        "/responses" | "/responses/compact" => Route::Responses,
        "/chat/completions" => Route::Chat,
        "/messages" => Route::Messages,
        "/messages/count_tokens" => Route::CountTokens,
        "/models" => Route::Models,
        other if other.starts_with("/models/") && !other[8..].is_empty() => Route::Models,
        other => return Err(ProxyError::NotFound(other.to_string())),
    };
    let expected = match route {
        Route::Models | Route::GeminiModels => Method::GET,
        Route::Responses
        | Route::Chat
        | Route::Messages
        | Route::CountTokens
        | Route::Gemini
        | Route::GeminiCountTokens => Method::POST,
    };
    if *method == expected { Ok(route) } else { Err(ProxyError::MethodNotAllowed) }
}

/// The Gemini API routes, with their version prefix (`/v1beta`, `/v1alpha`, or `/v1` for a
/// `POST .../models/{model}:{method}`) taken off the suffix; `None` for any other path.
pub(super) fn gemini_route(method: &Method, path: &str) -> Option<Result<(Route, String), ProxyError>> {
    const METHODS: [&str; 3] = ["generateContent", "streamGenerateContent", "countTokens"];
    let (versioned, rest) = ["/v1beta", "/v1alpha", "/v1"].iter().find_map(|version| {
        path.strip_prefix(version).filter(|rest| rest.starts_with('/')).map(|rest| (*version, rest))
    })?;
    let colon_method = crate::convert::gemini_path(rest).map(|(_, name)| name);
    // `/v1` is the OpenAI and Anthropic prefix too: only a Gemini API method makes it Gemini.
    if versioned == "/v1"
        && !(*method == Method::POST && colon_method.is_some_and(|name| METHODS.contains(&name)))
    {
        return None;
    }
    let route = match colon_method {
        Some("generateContent" | "streamGenerateContent") => Route::Gemini,
        Some("countTokens") => Route::GeminiCountTokens,
        Some(other) => return Some(Err(ProxyError::NotFound(format!("{versioned}{rest} ({other})")))),
        None if rest == "/models" || rest.len() > "/models/".len() && rest.starts_with("/models/") => {
            Route::GeminiModels
        }
        None => return Some(Err(ProxyError::NotFound(format!("{versioned}{rest}")))),
    };
    let expected = if route == Route::GeminiModels { Method::GET } else { Method::POST };
    if *method != expected {
        return Some(Err(ProxyError::MethodNotAllowed));
    }
    Some(Ok((route, rest.to_string())))
}

/// The query without its `key` parameter on a Gemini API route (its other place for a
/// key), and that key; on every route, a pair whose name or value carries the local token
/// is dropped too, so the token never goes upstream in a URL.
pub(super) fn split_query_key(
    query: Option<&str>,
    gemini: bool,
    token: &str,
) -> (Option<String>, Option<String>) {
    let Some(query) = query else { return (None, None) };
    let mut key = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            // One pair, decoded as a form would be (percent escapes, `+`); borrowed when
            // there is nothing to decode.
            let Some((name, value)) = url::form_urlencoded::parse(pair.as_bytes()).next() else {
                return false;
            };
            if gemini && name == "key" {
                key = Some(value.into_owned());
                return false;
            }
            !name.contains(token) && !value.contains(token)
        })
        .collect();
    ((!kept.is_empty()).then(|| kept.join("&")), key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(match_route(&Method::POST, "/responses").unwrap(), Route::Responses);
        assert_eq!(match_route(&Method::POST, "/messages/count_tokens").unwrap(), Route::CountTokens);
        assert_eq!(match_route(&Method::GET, "/models/gpt-5").unwrap(), Route::Models);
        assert!(matches!(match_route(&Method::GET, "/responses"), Err(ProxyError::MethodNotAllowed)));
        assert!(matches!(match_route(&Method::POST, "/admin"), Err(ProxyError::NotFound(_))));
    }

    #[test]
    fn gemini_routes_keep_the_model_path_and_leave_other_v1_paths_alone() {
        let route = |method: &Method, path: &str| gemini_route(method, path).map(Result::unwrap);
        assert_eq!(
            route(&Method::POST, "/v1beta/models/gemini-2.5-pro:streamGenerateContent"),
            Some((Route::Gemini, "/models/gemini-2.5-pro:streamGenerateContent".to_string()))
        );
        assert_eq!(
            route(&Method::POST, "/v1/models/gemini-2.5-pro:generateContent"),
            Some((Route::Gemini, "/models/gemini-2.5-pro:generateContent".to_string()))
        );
        assert_eq!(
            route(&Method::POST, "/v1beta/models/m:countTokens").map(|found| found.0),
            Some(Route::GeminiCountTokens)
        );
        assert_eq!(route(&Method::GET, "/v1beta/models").map(|found| found.0), Some(Route::GeminiModels));
        // Router and provider model ids with a slash, unencoded as the SDK sends them.
        assert_eq!(
            route(&Method::POST, "/v1alpha/models/openai/gpt-4o:streamGenerateContent"),
            Some((Route::Gemini, "/models/openai/gpt-4o:streamGenerateContent".to_string()))
        );
        assert_eq!(
            route(&Method::GET, "/v1beta/models/openai/gpt-4o").map(|found| found.0),
            Some(Route::GeminiModels)
        );
        // OpenAI's model ids may hold colons: a GET under /v1 stays an OpenAI route.
        assert_eq!(route(&Method::GET, "/v1/models/ft:gpt-4o:org:x"), None);
        assert_eq!(route(&Method::POST, "/v1/chat/completions"), None);
        assert!(matches!(
            gemini_route(&Method::GET, "/v1beta/models/m:generateContent"),
            Some(Err(ProxyError::MethodNotAllowed))
        ));
        assert!(matches!(
            gemini_route(&Method::POST, "/v1beta/models/m:embedContent"),
            Some(Err(ProxyError::NotFound(_)))
        ));
    }

    #[test]
    fn the_query_key_is_taken_out() {
        assert_eq!(
            split_query_key(Some("alt=sse&key=sk%2Bx"), true, "tok"),
            (Some("alt=sse".to_string()), Some("sk+x".to_string()))
        );
        assert_eq!(split_query_key(Some("key=t"), true, "tok"), (None, Some("t".to_string())));
        assert_eq!(split_query_key(Some("key=t"), false, "tok"), (Some("key=t".to_string()), None));
        // The local token never rides in a URL, whatever the route or the spelling.
        assert_eq!(
            split_query_key(Some("a=1&%6Bey=tok&x=pre-tok-post&tok=1"), false, "tok"),
            (Some("a=1".to_string()), None)
        );
    }
}
