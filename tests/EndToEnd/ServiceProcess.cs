using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PaliGemma2.DocPipeline.Tests.Shared;

namespace PaliGemma2.DocPipeline.EndToEnd;

/// <summary>A deployable (Api, Worker, Cli) run as its own process from its build output.</summary>
internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServiceProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public static string Dll(string project, string assembly)
    {
        // Same configuration as the tests themselves were built with.
        var configuration = AppContext.BaseDirectory.Contains("/Release/", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(TestServices.RepoRoot, "src", project, "bin", configuration, "net10.0", assembly + ".dll");
        Assert.True(File.Exists(path), $"{path} is not built");
        return path;
    }

    public static ServiceProcess Start(string dll, IDictionary<string, string> environment, string? workingDirectory = null, params string[] args) =>
        StartExecutable("dotnet", environment, workingDirectory ?? Path.GetDirectoryName(dll)!, [dll, .. args]);

    /// <summary>Starts any program (Prometheus, a script) with its output captured like a deployable's.</summary>
    public static ServiceProcess StartExecutable(string program, IDictionary<string, string> environment, string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        return new ServiceProcess(Process.Start(psi)!);
    }

    /// <summary>Runs the <c>docpipe</c> CLI in <paramref name="workingDirectory"/> to completion.</summary>
    public static async Task<(int Exit, string Output)> DocpipeAsync(string workingDirectory, params string[] args)
    {
        var env = new Dictionary<string, string> { ["COLUMNS"] = "240", ["NO_COLOR"] = "1" };
        await using var p = Start(Dll("Cli", "docpipe"), env, workingDirectory, args);
        var exit = await p.WaitForExitAsync(TimeSpan.FromMinutes(3));
        return (exit, p.Output);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit();
        return _process.ExitCode;
    }

    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Sends SIGTERM, as Kubernetes and Ctrl-C's neighbours do: the process may shut down gracefully.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    public int Id => _process.Id;

    /// <summary>
    /// Settings every distributed process of a test shares: a fresh RabbitMQ vhost and PostgreSQL database,
    /// a blob folder under <paramref name="root"/>, no drop folder unless a test sets one.
    /// </summary>
    public static async Task<(Dictionary<string, string> Env, Uri Rabbit, string Postgres)> DistributedEnvironmentAsync(string name, string root)
    {
        var rabbit = await TestServices.CreateVirtualHostAsync(name);
        var postgres = await TestServices.CreateDatabaseAsync(name);
        var env = new Dictionary<string, string>
        {
            ["Pipeline__Transport"] = "RabbitMq",
            ["ConnectionStrings__RabbitMq"] = rabbit.ToString(),
            ["Storage__Provider"] = "Postgres",
            ["ConnectionStrings__Postgres"] = postgres,
            ["Storage__BlobRoot"] = Path.Combine(root, "blobs"),
            ["Intake__DropFolder"] = "",
            ["Intake__SharedRoot"] = "",
            ["DOTNET_ENVIRONMENT"] = "Production",
            // Every process serves probes and /metrics; port 0 lets several run side by side unless a test picks one.
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
        };
        return (env, rabbit, postgres);
    }

    /// <summary>Starts the API process on a free loopback port and waits until <c>/healthz</c> answers.</summary>
    public static async Task<(ServiceProcess Api, HttpClient Client)> StartApiAsync(IDictionary<string, string> env, string? apiKey)
    {
        var port = FreePort();
        var api = Start(Dll("Api", "PaliGemma2.DocPipeline.Api"), new Dictionary<string, string>(env) { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" });
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        if (apiKey is not null)
        {
            client.DefaultRequestHeaders.Add("X-Api-Key", apiKey);
        }

        if (!await TestServices.EventuallyAsync(async () =>
        {
            try
            {
                return (await client.GetAsync("/healthz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(120)))
        {
            // Not left running after the failed test.
            var output = api.Output;
            await api.DisposeAsync();
            client.Dispose();
            Assert.Fail("API did not start:\n" + output);
        }

        return (api, client);
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
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
