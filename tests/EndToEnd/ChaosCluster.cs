using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>
/// A PostgreSQL cluster and a RabbitMQ node of the chaos test's own (scripts/services.sh in control mode, in a
/// folder under the test's root), so it can stop and restart them without touching the services other tests share.
/// </summary>
internal sealed class ChaosCluster : IAsyncDisposable
{
    private readonly string _root;
    private readonly int _pgPort = ServiceProcess.FreePort();
    private readonly int _amqpPort = ServiceProcess.FreePort();
    private readonly int _mgmtPort = ServiceProcess.FreePort();

    private bool _rabbitMq;

    private ChaosCluster(string root) => _root = root;

    public string Postgres => $"Host=127.0.0.1;Port={_pgPort};Username=postgres;Database=postgres;Pooling=true;Maximum Pool Size=50;Timeout=5";

    public Uri RabbitMq => new($"amqp://guest:guest@127.0.0.1:{_amqpPort}/");

    public static async Task<ChaosCluster> StartAsync(string root, bool rabbitMq = true)
    {
        var cluster = new ChaosCluster(root) { _rabbitMq = rabbitMq };
        await cluster.ControlAsync("postgres", "start");
        if (rabbitMq)
        {
            await cluster.ControlAsync("rabbitmq", "start");
        }

        return cluster;
    }

    public Task StopPostgresAsync() => ControlAsync("postgres", "stop");

    public Task StartPostgresAsync() => ControlAsync("postgres", "start");

    public Task StopRabbitMqAsync() => ControlAsync("rabbitmq", "stop");

    public Task StartRabbitMqAsync() => ControlAsync("rabbitmq", "start");

    public HttpClient Management()
    {
        var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{_mgmtPort}/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("guest:guest")));
        return http;
    }

    /// <summary>Waits until <paramref name="queue"/> has at least <paramref name="consumers"/> consumers (those processes' buses are up).</summary>
    public async Task<bool> WaitForConsumersAsync(string queue, int consumers, TimeSpan timeout)
    {
        using var http = Management();
        return await TestServices.EventuallyAsync(async () =>
        {
            using var response = await http.GetAsync($"api/queues/%2F/{queue}");
            if (!response.IsSuccessStatusCode)
            {
                return false;
            }

            using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return json.RootElement.TryGetProperty("consumers", out var c) && c.GetInt32() >= consumers;
        }, timeout);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_rabbitMq)
            {
                await ControlAsync("rabbitmq", "stop");
            }
        }
        catch (InvalidOperationException)
        {
            // Already stopped (a failed restart): nothing to stop.
        }

        try
        {
            await ControlAsync("postgres", "kill");
        }
        catch (InvalidOperationException)
        {
            // Same.
        }
    }

    private async Task ControlAsync(string service, string action)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(TestServices.RepoRoot, "scripts", "services.sh"));
        psi.ArgumentList.Add(service);
        psi.ArgumentList.Add(action);
        psi.ArgumentList.Add(Path.Combine(_root, service));
        psi.ArgumentList.Add((service == "postgres" ? _pgPort : _amqpPort).ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(_mgmtPort.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(cts.Token);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"services.sh {service} {action} exited {process.ExitCode}: {await stdout}{await stderr}");
        }
    }
}

/// <summary>A deployable run as its own process, which the chaos test kills (SIGKILL) or stops (SIGTERM) like an operator would.</summary>
internal sealed class ChaosProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ChaosProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines it wrote (for failure messages).</summary>
    public string Tail
    {
        get
        {
            lock (_output)
            {
                var text = _output.ToString();
                return $"--- {Name} ---\n" + (text.Length > 6000 ? text[^6000..] : text);
            }
        }
    }

    public static ChaosProcess Start(string name, string dll, IDictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        psi.ArgumentList.Add(dll);
        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        return new ChaosProcess(name, Process.Start(psi)!);
    }

    /// <summary>kill -9, with its children (renderer, decoder sandbox) so none outlives the test.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>SIGTERM, as an orchestrator stops a pod, then waits for the graceful stop.</summary>
    public async Task<int> TerminateAsync(TimeSpan timeout)
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
