import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

// An HTTP server on loopback (or on the address and port of its second
// and third arguments) that answers each GET with the next count. It
// writes its port to the file named by its first argument once it is
// serving.
public class JavaCounter {
    public static void main(String[] args) throws Exception {
        AtomicLong count = new AtomicLong();
        InetSocketAddress at = args.length > 2
            ? new InetSocketAddress(InetAddress.getByName(args[1]), Integer.parseInt(args[2]))
            : new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        HttpServer srv = HttpServer.create(at, 0);
        srv.createContext("/", ex -> {
            byte[] b = (count.incrementAndGet() + "\n").getBytes(StandardCharsets.US_ASCII);
            ex.sendResponseHeaders(200, b.length);
            try (OutputStream o = ex.getResponseBody()) {
                o.write(b);
            }
        });
        srv.start();
        Path tmp = Path.of(args[0] + ".tmp");
        Files.writeString(tmp, srv.getAddress().getPort() + "\n");
        Files.move(tmp, Path.of(args[0]));
    }
}
