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

    /// <summary>
    /// What every pipeline process on this cluster needs: the distributed transport and store, blobs under the root,
    /// no drop folder, production settings, one API key. Callers add their own settings to the copy they get.
    /// </summary>
    public Dictionary<string, string> Environment(Uri rabbitMq, string apiKey) => new()
    {
        ["Pipeline__Transport"] = "RabbitMq",
        ["ConnectionStrings__RabbitMq"] = rabbitMq.ToString(),
        ["Storage__Provider"] = "Postgres",
        ["ConnectionStrings__Postgres"] = Postgres,
        ["Storage__BlobRoot"] = Path.Combine(_root, "blobs"),
        ["Intake__DropFolder"] = "",
        ["Intake__SharedRoot"] = "",
        ["DOTNET_ENVIRONMENT"] = "Production",
        ["Api__Keys__0"] = apiKey,
    };

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
