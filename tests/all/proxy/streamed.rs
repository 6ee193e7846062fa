//! A large body that only one link can take is passed upstream as it arrives; the body
//! deadlines and the time to the answer's head still hold; a chain that can fail over
//! still reads it whole.

use futures_util::StreamExt;

use super::*;
use pretty_assertions::assert_eq;

/// An upstream that says when the first bytes of a body arrived, then reads it whole and
/// answers with a small JSON body; the bodies it read, in order.
async fn watching_upstream() -> (String, Arc<tokio::sync::Notify>, Arc<Mutex<Vec<Bytes>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    let first_bytes = Arc::new(tokio::sync::Notify::new());
    let bodies: Arc<Mutex<Vec<Bytes>>> = Arc::default();
    let (notify, seen) = (first_bytes.clone(), bodies.clone());
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (notify, seen) = (notify.clone(), seen.clone());
        async move {
            let mut stream = request.into_body().into_data_stream();
            let mut all = Vec::new();
            while let Some(Ok(chunk)) = stream.next().await {
                if all.is_empty() {
                    notify.notify_one();
                }
                all.extend_from_slice(&chunk);
            }
            seen.lock().unwrap().push(Bytes::from(all));
            let mut response =
                Response::new(Body::from(r#"{"id":"r","usage":{"input_tokens":3,"output_tokens":1}}"#));
            response.headers_mut().insert("content-type", "application/json".parse().unwrap());
            response
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, first_bytes, bodies)
}

/// A request of a declared `length` whose body the test sends piece by piece.
fn piecewise(
    proxy: &Proxy,
    path: &str,
    length: usize,
) -> (mpsc::Sender<Bytes>, tokio::task::JoinHandle<reqwest::Response>) {
    let (sender, receiver) = mpsc::channel::<Bytes>(4);
    let pieces = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|piece| (Ok::<_, std::io::Error>(piece), receiver))
    });
    let request = proxy
        .http
        .post(proxy.url(path))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .header("content-length", length.to_string())
        .body(reqwest::Body::wrap_stream(pieces))
        .send();
    (sender, tokio::spawn(async move { request.await.unwrap() }))
}

#[tokio::test]
async fn a_large_body_for_the_only_link_goes_upstream_as_it_arrives() {
    let (base, first_bytes, bodies) = watching_upstream().await;
    let proxy = start(vec![ChainEntry::Provider(Provider::new("up", base, vec![Api::Responses]))]).await;
    let head = format!(r#"{{"model":"gpt-5","input":"{}"#, "x".repeat(300 << 10));
    let tail = r#"","stream":false}"#;
    let (sender, answer) = piecewise(&proxy, "/v1/responses", head.len() + tail.len());
    sender.send(Bytes::from(head.clone())).await.unwrap();
    // The upstream has the first bytes while the client still holds back the rest.
    tokio::time::timeout(NET, first_bytes.notified()).await.expect("the body is passed on as it arrives");
    sender.send(Bytes::from_static(tail.as_bytes())).await.unwrap();
    drop(sender);
    let response = answer.await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("\"id\":\"r\""));
    assert_eq!(bodies.lock().unwrap()[0], Bytes::from(format!("{head}{tail}")));
    let rows = proxy.rows().await;
    assert_eq!(rows[0]["model_requested"], "gpt-5");
    assert_eq!(rows[0]["status"], 200);
    assert_eq!(rows[0]["input"], 3);
}

#[tokio::test]
async fn a_chain_that_can_fail_over_reads_a_large_body_whole_and_sends_it_again() {
    let first = Upstream::start().await;
    let second = Upstream::start().await;
    first.push(Script::Full { status: 500, headers: vec![], body: "down".into() });
    let proxy = start(vec![
        ChainEntry::Provider(provider("a", &first, &[Api::Chat])),
        ChainEntry::Provider(provider("b", &second, &[Api::Chat])),
    ])
    .await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "y".repeat(600 << 10)}]});
    let response = proxy.post("/v1/chat/completions", &body).await;
    assert_eq!(served_by(&response), "b");
    assert_eq!(first.requests()[0].body, second.requests()[0].body);
    assert_eq!(serde_json::from_slice::<Value>(&second.requests()[0].body).unwrap(), body);
}

#[tokio::test]
async fn a_streamed_request_whose_upstream_never_answers_times_out() {
    // An upstream that reads whatever comes and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                use tokio::io::AsyncReadExt;
                let mut buf = vec![0u8; 1 << 16];
                while stream.read(&mut buf).await.is_ok_and(|read| read > 0) {}
            });
        }
    });
    let mut silent = Provider::new("silent", base, vec![Api::Chat]);
    silent.timeout = Some(Duration::from_millis(500));
    let proxy = start(vec![ChainEntry::Provider(silent)]).await;
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "q".repeat(300 << 10)}]});
    let response =
        tokio::time::timeout(NET, proxy.post("/v1/chat/completions", &body)).await.expect("answered in time");
    assert_eq!(response.status(), 502);
    let text = response.text().await.unwrap();
    assert!(text.contains("no response headers within 500ms"), "{text}");
    let rows = proxy.rows().await;
    assert_eq!(rows[0]["status"], 502);
}

#[tokio::test]
async fn a_streamed_body_that_stalls_gets_408() {
    let (base, first_bytes, _bodies) = watching_upstream().await;
    let proxy =
        start_with(vec![ChainEntry::Provider(Provider::new("up", base, vec![Api::Chat]))], |config| {
            config.body_timeouts = aigate::proxy::server::BodyTimeouts {
                idle: Duration::from_millis(200),
                total: Duration::from_secs(5),
            };
        })
        .await;
    let (sender, answer) = piecewise(&proxy, "/v1/chat/completions", 1 << 20);
    sender.send(Bytes::from_static(br#"{"model":"m","messages":["#)).await.unwrap();
    tokio::time::timeout(NET, first_bytes.notified()).await.expect("passed on");
    // The rest never comes (the sender stays open).
    let response = tokio::time::timeout(NET, answer).await.expect("answered in time").unwrap();
    assert_eq!(response.status(), 408);
    drop(sender);
}
