using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary><c>scripts/cluster.sh</c> as a newcomer runs it: its own services, every role a process, Ctrl-C's SIGTERM stops all.</summary>
public sealed class ClusterScriptTests
{
    [Fact]
    public async Task The_cluster_script_runs_every_role_processes_an_upload_and_leaves_nothing_running_after_SIGTERM()
    {
        const string key = "cluster-test-key";
        var ports = new Dictionary<string, int>
        {
            ["PG_PORT"] = ServiceProcess.FreePort(),
            ["AMQP_PORT"] = ServiceProcess.FreePort(),
            ["RABBIT_MGMT_PORT"] = ServiceProcess.FreePort(),
            ["ORTHANC_HTTP_PORT"] = ServiceProcess.FreePort(),
            ["ORTHANC_DICOM_PORT"] = ServiceProcess.FreePort(),
            ["API_PORT"] = ServiceProcess.FreePort(),
            ["PROM_PORT"] = ServiceProcess.FreePort(),
            ["ROLE_PORT_BASE"] = ServiceProcess.FreePort(),
        };
        var env = ports.ToDictionary(p => p.Key, p => p.Value.ToString(CultureInfo.InvariantCulture));
        env["DOCPIPE_API_KEY"] = key;
        env["CONFIGURATION"] = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";

        await using var cluster = ServiceProcess.StartExecutable("bash", env, TestServices.RepoRoot, "scripts/cluster.sh");
        Assert.True(await TestServices.EventuallyAsync(() => Task.FromResult(cluster.Output.Contains("Ctrl-C stops everything.", StringComparison.Ordinal) || cluster.HasExited),
            TimeSpan.FromMinutes(6)), "the cluster did not come up:\n" + cluster.Output);
        Assert.False(cluster.HasExited, cluster.Output);

        var api = $"http://127.0.0.1:{ports["API_PORT"]}";
        Assert.Contains($"API:                  {api}", cluster.Output, StringComparison.Ordinal);
        Assert.Contains($"RabbitMQ management:  http://127.0.0.1:{ports["RABBIT_MGMT_PORT"]}", cluster.Output, StringComparison.Ordinal);
        Assert.Contains($"Prometheus:           http://127.0.0.1:{ports["PROM_PORT"]}", cluster.Output, StringComparison.Ordinal);
        Assert.Contains($"curl -H \"X-Api-Key: {key}\" -F \"file=@samples/", cluster.Output, StringComparison.Ordinal);
        foreach (var task in Directory.GetDirectories(Path.Combine(TestServices.RepoRoot, "models", "demo")).Select(Path.GetFileName))
        {
            Assert.Contains($"   infer-{task} (pid ", cluster.Output, StringComparison.Ordinal);
        }

        using (var http = new HttpClient())
        {
            Assert.True((await http.GetAsync($"http://127.0.0.1:{ports["PROM_PORT"]}/-/ready")).IsSuccessStatusCode);
            Assert.True((await http.GetAsync($"http://127.0.0.1:{ports["RABBIT_MGMT_PORT"]}/")).IsSuccessStatusCode);
            // The review page is served: the Api runs with its output folder (wwwroot) as content root.
            Assert.True((await http.GetAsync($"{api}/review/")).IsSuccessStatusCode);
        }

        // Upload as the printed example does; the API, prepare and infer-table processes take it to done.
        using (var client = new HttpClient { BaseAddress = new Uri(api) })
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", key);
            using var form = new MultipartFormDataContent();
            var file = new ByteArrayContent(await File.ReadAllBytesAsync(TestServices.CorpusFile("pdf", "ltxtable.pdf")));
            file.Headers.ContentType = new MediaTypeHeaderValue("application/pdf");
            form.Add(file, "file", "ltxtable.pdf");
            using var accepted = await client.PostAsync("/v1/documents?task=table", form);
            Assert.Equal(System.Net.HttpStatusCode.Accepted, accepted.StatusCode);
            var statusUrl = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("statusUrl").GetString()!;
            string? status = null;
            Assert.True(await TestServices.EventuallyAsync(async () =>
            {
                status = (await client.GetFromJsonAsync<JsonElement>(statusUrl)).GetProperty("status").GetString();
                return status == "done";
            }, TimeSpan.FromMinutes(3)), $"status {status}:\n{cluster.Output}");
        }

        var descendants = Descendants(cluster.Id);
        Assert.True(descendants.Count >= 6, $"expected the role processes under the script, found {descendants.Count}");
        cluster.Terminate();
        var exit = await cluster.WaitForExitAsync(TimeSpan.FromMinutes(3));
        Assert.True(exit == 0, $"exit code {exit}:\n{cluster.Output}");

        Assert.True(await TestServices.EventuallyAsync(() => Task.FromResult(descendants.All(p => !Alive(p))), TimeSpan.FromSeconds(30)),
            "still running: " + string.Join(", ", descendants.Where(Alive)));
        foreach (var (name, port) in ports.Where(p => p.Key is "API_PORT" or "PROM_PORT" or "PG_PORT" or "AMQP_PORT" or "ROLE_PORT_BASE"))
        {
            Assert.False(Listening(port), $"{name} {port} still accepts connections");
        }
    }

    /// <summary>Every process whose parent chain leads to <paramref name="root"/> (from /proc).</summary>
    private static List<int> Descendants(int root)
    {
        var parents = new Dictionary<int, int>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(dir), out var pid))
            {
                try
                {
                    // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ')'.
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                    parents[pid] = int.Parse(fields[1], CultureInfo.InvariantCulture);
                }
                catch (IOException)
                {
                }
            }
        }

        var found = new List<int>();
        var frontier = new Queue<int>([root]);
        while (frontier.TryDequeue(out var p))
        {
            foreach (var child in parents.Where(kv => kv.Value == p).Select(kv => kv.Key))
            {
                found.Add(child);
                frontier.Enqueue(child);
            }
        }

        return found;
    }

    private static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static bool Listening(int port)
    {
        try
        {
            using var tcp = new TcpClient();
            tcp.Connect("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
