package org.evidenceportal.esnode;

import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;

import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.common.transport.TransportAddress;
import org.elasticsearch.http.HttpServerTransport;
import org.elasticsearch.node.MockNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * A real single-node Elasticsearch in one JVM, HTTP (Netty4) on 127.0.0.1.
 *
 * <p>Usage: {@code EsNode [--port N] [--data DIR] [--name NAME] [--setting KEY=VALUE]...}. Port 0 (the default) picks a
 * free port; without --data the node keeps its data in a fresh temporary folder. When the node
 * answers, one line {@code ELASTICSEARCH_URL=http://127.0.0.1:PORT} goes to stdout. SIGTERM
 * closes the node cleanly.
 */
public final class EsNode {

    private static String port = "0";
    private static Path data;
    private static String name = "evidence-test-node";
    private static final java.util.Map<String, String> extra = new java.util.LinkedHashMap<>();

    private EsNode() {}

    public static void main(String[] args) throws Exception {
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port" -> port = args[++i];
                case "--data" -> data = Path.of(args[++i]);
                case "--name" -> name = args[++i];
                case "--setting" -> {
                    String[] kv = args[++i].split("=", 2);
                    if (kv.length != 2) {
                        System.err.println("--setting needs key=value, not " + args[i]);
                        System.exit(2);
                    }
                    extra.put(kv[0], kv[1]);
                }
                default -> {
                    System.err.println("unknown argument: " + args[i] + " (use --port N, --data DIR, --name NAME, --setting K=V)");
                    System.exit(2);
                }
            }
        }
        Result result = new JUnitCore().run(NodeSuite.class);
        for (Failure failure : result.getFailures()) {
            System.err.println("es-node failed: " + failure.getTrace());
        }
        System.exit(result.wasSuccessful() ? 0 : 1);
    }

    /** Start the node (inside NodeSuite's randomized context), print its URL, wait for SIGTERM. */
    static void runNode() throws Exception {
        if (data == null) {
            data = Files.createTempDirectory("es-node-");
        }
        Files.createDirectories(data.resolve("home"));
        Files.createDirectories(data.resolve("data"));
        Settings.Builder builder = Settings.builder()
            .put("cluster.name", "evidence-portal-test")
            .put("node.name", name)
            .put("path.home", data.resolve("home").toString())
            .put("path.data", data.resolve("data").toString())
            .put("discovery.type", "single-node")
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", "0")
            .put("http.type", "netty4")
            .put("transport.type", "netty4")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("indices.breaker.total.use_real_memory", false)
            .put("action.destructive_requires_name", false);
        extra.forEach(builder::put);
        Settings settings = builder.build();

        Node node = new MockNode(settings, List.of(Netty4Plugin.class, EnglishAnalysisPlugin.class, RootEndpointPlugin.class));
        CountDownLatch closed = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                closed.countDown();
            }
        }, "es-node-shutdown"));
        node.start();
        TransportAddress bound = node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress();
        InetSocketAddress address = bound.address();
        System.out.println("ELASTICSEARCH_URL=http://127.0.0.1:" + address.getPort());
        System.out.flush();
        closed.await();
    }
}
