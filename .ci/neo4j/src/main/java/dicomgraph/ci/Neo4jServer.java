package dicomgraph.ci;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.kernel.internal.Version;

/**
 * Test/CI-only Neo4j 5.26 community engine: embedded DBMS with the Bolt connector
 * on 127.0.0.1:PORT and authentication enabled (user neo4j, known password).
 *
 * Configured through environment variables (normally set by .ci/neo4j-start):
 *   NEO4J_HOME_DIR     neo4j home (data/, logs/ go below it)        [required]
 *   NEO4J_BOLT_PORT    Bolt port on 127.0.0.1                        [required]
 *   NEO4J_PASSWORD     password of user neo4j (default dicom-graph-test)
 *   NEO4J_PAGECACHE    page cache size, e.g. 512m (default 512m)
 *   NEO4J_READY_FILE   written (atomically) once Bolt is up and the password is set
 *   NEO4J_CONF_FILE    optional neo4j.conf-style file with extra settings
 *
 * The ready file holds "version=..." and "uri=bolt://127.0.0.1:PORT".
 * SIGTERM shuts the DBMS down cleanly.
 */
public final class Neo4jServer {
    private static final String DEFAULT_PASSWORD = "dicom-graph-test";

    private Neo4jServer() {}

    public static void main(String[] args) throws Exception {
        Path home = Path.of(requireEnv("NEO4J_HOME_DIR")).toAbsolutePath();
        int port = Integer.parseInt(requireEnv("NEO4J_BOLT_PORT"));
        String password = envOr("NEO4J_PASSWORD", DEFAULT_PASSWORD);
        long pageCache = parseBytes(envOr("NEO4J_PAGECACHE", "512m"));
        String readyFile = System.getenv("NEO4J_READY_FILE");
        String confFile = System.getenv("NEO4J_CONF_FILE");

        Files.createDirectories(home);
        long t0 = System.nanoTime();

        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home);
        if (confFile != null && !confFile.isBlank()) {
            builder.loadPropertiesFromFile(Path.of(confFile));
        }
        builder.setConfig(Map.of(
                BoltConnector.enabled, true,
                BoltConnector.listen_address, new SocketAddress("127.0.0.1", port),
                BoltConnector.advertised_address, new SocketAddress("127.0.0.1", port),
                BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED,
                GraphDatabaseSettings.auth_enabled, true,
                // Tests deliberately try wrong passwords; never lock the user out.
                GraphDatabaseSettings.auth_max_failed_attempts, 0,
                GraphDatabaseSettings.auth_minimum_password_length, 1,
                GraphDatabaseSettings.pagecache_memory, pageCache,
                // 0 = unlimited: large (100k-row) UNWIND batches must fit.
                GraphDatabaseSettings.memory_transaction_global_max_size, 0L,
                GraphDatabaseSettings.memory_transaction_database_max_size, 0L));
        builder.setConfig(Map.of(
                GraphDatabaseSettings.memory_transaction_max_size, 0L,
                GraphDatabaseSettings.transaction_timeout, Duration.ZERO,
                GraphDatabaseSettings.udc_enabled, false,
                GraphDatabaseSettings.preallocate_logical_logs, false));

        DatabaseManagementService dbms = builder.build();
        long tBuilt = System.nanoTime();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("neo4j-test-server: shutting down");
            try {
                dbms.shutdown();
            } catch (Throwable t) {
                t.printStackTrace();
            }
            stopped.countDown();
            System.out.println("neo4j-test-server: stopped");
        }, "neo4j-test-server-shutdown"));

        // The initial user 'neo4j' has password 'neo4j' with change required; set the
        // known password through the system database (runs with full access in-process).
        dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                "ALTER USER neo4j SET PASSWORD $pw CHANGE NOT REQUIRED", Map.of("pw", password));

        String version = Version.getNeo4jVersion();
        String uri = "bolt://127.0.0.1:" + port;
        long tDone = System.nanoTime();
        System.out.printf(Locale.ROOT,
                "neo4j-test-server: Neo4j %s (community) ready on %s after %d ms (dbms %d ms, password %d ms)%n",
                version, uri, (tDone - t0) / 1_000_000, (tBuilt - t0) / 1_000_000, (tDone - tBuilt) / 1_000_000);
        if (readyFile != null && !readyFile.isBlank()) {
            writeAtomically(Path.of(readyFile), "version=" + version + "\nuri=" + uri + "\n");
        }
        stopped.await();
    }

    private static void writeAtomically(Path target, String content) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static String requireEnv(String name) {
        String v = System.getenv(name);
        if (v == null || v.isBlank()) {
            System.err.println("neo4j-test-server: environment variable " + name + " is required");
            System.exit(2);
        }
        return v;
    }

    private static String envOr(String name, String dflt) {
        String v = System.getenv(name);
        return (v == null || v.isEmpty()) ? dflt : v;
    }

    /** Parses sizes like 512m, 1g, 1048576, 64k (binary units). */
    static long parseBytes(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT);
        if (t.endsWith("b")) {
            t = t.substring(0, t.length() - 1);
        }
        long mult = 1;
        char last = t.isEmpty() ? '0' : t.charAt(t.length() - 1);
        switch (last) {
            case 'k': mult = 1L << 10; break;
            case 'm': mult = 1L << 20; break;
            case 'g': mult = 1L << 30; break;
            default: break;
        }
        if (mult != 1) {
            t = t.substring(0, t.length() - 1);
        }
        return Long.parseLong(t.trim()) * mult;
    }
}
